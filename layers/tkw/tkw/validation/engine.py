"""Running the rules: ``validate(inp) -> list[Finding]``.

Rules run in a fixed order (headers, structure, message, query, application) so reports read the same way
every time. A rule that crashes must not break the sender's request: it becomes an ``info``
finding naming the rule, and the error is logged without the request's content.
"""

from __future__ import annotations

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


def validate(inp: ValidationInput) -> list[Finding]:
    """Every finding (passed and failed) of every rule that applies to ``inp.operation``."""
    ctx = ValidationContext(inp)
    findings: list[Finding] = []
    for rule in RULES:
        if not rule.applies_to(inp.operation):
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
