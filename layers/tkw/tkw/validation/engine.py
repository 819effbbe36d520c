"""Running the rules: ``validate(inp) -> list[Finding]``.

Rules run in a fixed order (headers, structure, message, query) so reports read the same way
every time. A rule that crashes must not break the sender's request: it becomes an ``info``
finding naming the rule, and the error is logged without the request's content.
"""

from __future__ import annotations

import logging

from tkw.validation import headers, message, query, structure
from tkw.validation.context import ValidationContext, ValidationInput
from tkw.validation.findings import Finding
from tkw.validation.registry import Rule

logger = logging.getLogger(__name__)

RULES: tuple[Rule, ...] = (*headers.RULES.rules, *structure.RULES.rules, *message.RULES.rules, *query.RULES.rules)


def validate(inp: ValidationInput) -> list[Finding]:
    """Every finding (passed and failed) of every rule that applies to ``inp.operation``."""
    ctx = ValidationContext(inp)
    findings: list[Finding] = []
    for rule in RULES:
        if not rule.applies_to(inp.operation):
            continue
        try:
            findings.extend(rule.check(ctx))
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
