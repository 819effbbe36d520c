"""Running the rules: ``validate(inp) -> list[Finding]``.

Rules run in a fixed order (headers, structure, message, query, application) so reports read the same way
every time. A rule that crashes must not break the sender's request: it becomes an ``info``
finding naming the rule, and the error is logged without the request's content.

The transaction rules (X-Request-Id, X-Correlation-Id, a reused id) come first; every later rule's
findings follow from the request's content (:func:`content_key`), so report production can share
them between requests that send the same thing (a CI suite replaying its fixtures).
"""

from __future__ import annotations

import json
import logging

from tkw.validation import application_rules, header_rules, message_rules, query_rules, structure_rules, ucc_rules
from tkw.validation.context import ValidationContext, ValidationInput
from tkw.validation.findings import Finding
from tkw.validation.registry import Rule

logger = logging.getLogger(__name__)

# A check repeated per entry (fullUrl, NHS number, ...) lists at most this many results of each
# kind; a Bundle of 200,000 entries must not make a report (or a strict-mode answer) of 200,000.
MAX_FINDINGS_PER_CHECK = 50
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}

RULES: tuple[Rule, ...] = (
    *header_rules.RULES.rules,
    *ucc_rules.HEADER_RULES.rules,
    *structure_rules.RULES.rules,
    *message_rules.RULES.rules,
    *query_rules.RULES.rules,
    *application_rules.RULES.rules,
    *ucc_rules.RULES.rules,
)
TRANSACTION_RULES = tuple(rule for rule in RULES if rule.transaction)
CONTENT_RULES = tuple(rule for rule in RULES if not rule.transaction)
if RULES != TRANSACTION_RULES + CONTENT_RULES:  # reports list findings in RULES order
    raise RuntimeError("transaction rules must come before every other rule in RULES")
# The headers transaction rules read: no other rule may read them (their values are not in content_key).
TRANSACTION_HEADERS = frozenset({"x-request-id", "x-correlation-id"})


def validate(inp: ValidationInput) -> list[Finding]:
    """Every finding (passed and failed) of every rule that applies to ``inp.operation``."""
    return run_rules(ValidationContext(inp), RULES)


def content_key(inp: ValidationInput) -> bytes:
    """Everything the content rules (and the judgement, and the profiles) can read of ``inp``: the
    operation, the request's method, path, query, path parameters, headers but the transaction
    headers, body, and whether admission checked the body's structure. Requests with the same key
    get the same content findings. The decoded target comes from its header, which is in the key."""
    request = inp.request
    described = json.dumps(
        [
            str(inp.operation),
            request.method,
            request.path,
            sorted((name, list(values)) for name, values in request.query.items()),
            sorted(request.path_params.items()),
            sorted((name, list(values)) for name, values in request.headers.items() if name not in TRANSACTION_HEADERS),
            inp.structure_validated,
            request.body is None,
        ]
    )
    return described.encode() + b"\n" + (request.body or b"")


def run_rules(ctx: ValidationContext, rules: tuple[Rule, ...]) -> list[Finding]:
    """The findings of those of ``rules`` that apply to the context's operation, in order."""
    findings: list[Finding] = []
    for rule in rules:
        if not rule.applies_to(ctx.operation):
            continue
        try:
            findings.extend(capped(list(rule.check(ctx))))
        except Exception:  # a rule bug must never cost the sender its answer
            logger.exception("validation rule %s failed", rule.id)
            findings.append(
                Finding(
                    id=rule.id,
                    category=rule.category,
                    severity="info",
                    passed=False,
                    message=f"The emulator could not run the check '{rule.summary}'; it is not counted.",
                    location="",
                    issue_code="exception",
                )
            )
    return findings


def capped(found: list[Finding]) -> list[Finding]:
    """At most MAX_FINDINGS_PER_CHECK passes and failures of each check id, plus one finding per
    check saying how many more there were (as severe as the worst of them, so the verdict holds)."""
    kept: list[Finding] = []
    extra: dict[tuple[str, bool], list[Finding]] = {}
    counts: dict[tuple[str, bool], int] = {}
    for finding in found:
        key = (finding.id, finding.passed)
        counts[key] = counts.get(key, 0) + 1
        if counts[key] <= MAX_FINDINGS_PER_CHECK:
            kept.append(finding)
        else:
            extra.setdefault(key, []).append(finding)
    for (_check_id, passed), rest in extra.items():
        worst = min(rest, key=lambda f: _SEVERITY_ORDER[f.severity])
        outcome = "passes" if passed else "failures"
        kept.append(
            worst.model_copy(
                update={
                    "message": f"{len(rest)} more {outcome} of this check are not listed (the first "
                    f"{MAX_FINDINGS_PER_CHECK} are).",
                    "location": "",
                }
            )
        )
    return kept
