"""The rule registry: small named check functions, each declaring which operations it applies to.

A rule is a function from the :class:`~tkw.validation.context.ValidationContext` to findings.
Rules live in one module per category (headers, structure, message, query) and register with that
module's :class:`RuleSet`; :mod:`tkw.validation.engine` runs them in registration order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tkw.routes import Operation
from tkw.validation.findings import Category, Finding, Severity

if TYPE_CHECKING:
    from tkw.validation.context import ValidationContext

RuleFunction = Callable[["ValidationContext"], Iterable[Finding]]

# Every BaRS operation a sender calls; _ping is the proxy's and carries no BaRS contract.
BARS_OPERATIONS: frozenset[Operation] = frozenset(Operation) - {Operation.PING}


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    category: Category
    summary: str  # one line: what the rule checks (shown in docs and reports of a crashed rule)
    operations: frozenset[Operation]
    check: RuleFunction
    # Reads what differs for every request: X-Request-Id, X-Correlation-Id, or whether the id was
    # used before. Every other rule's findings follow from the request's content alone (see
    # tkw.validation.engine.content_key), so requests with the same content may share them.
    transaction: bool = False

    def applies_to(self, operation: Operation) -> bool:
        return operation in self.operations


class RuleSet:
    """The rules of one category, in the order they were declared."""

    def __init__(self, category: Category) -> None:
        self.category: Category = category
        self.rules: list[Rule] = []

    def rule(
        self,
        rule_id: str,
        summary: str,
        operations: Iterable[Operation] = BARS_OPERATIONS,
        *,
        transaction: bool = False,
    ) -> Callable[[RuleFunction], RuleFunction]:
        def register(check: RuleFunction) -> RuleFunction:
            self.rules.append(Rule(rule_id, self.category, summary, frozenset(operations), check, transaction))
            return check

        return register

    # -- finding constructors: every finding of this category is made through these ------------

    def passed(self, check_id: str, message: str, location: str = "", severity: Severity = "error") -> Finding:
        return Finding(
            id=check_id, category=self.category, severity=severity, passed=True, message=message, location=location
        )

    def failed(
        self,
        check_id: str,
        message: str,
        location: str = "",
        *,
        severity: Severity = "error",
        issue_code: str = "invalid",
        bars_code: str = "REC_BAD_REQUEST",
    ) -> Finding:
        return Finding(
            id=check_id,
            category=self.category,
            severity=severity,
            passed=False,
            message=message,
            location=location,
            issue_code=issue_code,
            bars_code=bars_code,
        )
