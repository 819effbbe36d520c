"""Validation: checks of a BaRS request that produce findings for the sender's report.

Entry point: :func:`validate`. Rules are small named functions grouped by category in
:mod:`~tkw.validation.header_rules`, :mod:`~tkw.validation.structure_rules`, :mod:`~tkw.validation.message_rules`
and :mod:`~tkw.validation.query_rules`; :func:`strict_mode_error` turns error findings into a 400.
"""

from tkw.validation.context import ValidationInput
from tkw.validation.engine import RULES, validate
from tkw.validation.findings import Category, Finding, Severity, Verdict, error_findings, verdict_of
from tkw.validation.strict import strict_mode_error

__all__ = [
    "RULES",
    "Category",
    "Finding",
    "Severity",
    "ValidationInput",
    "Verdict",
    "error_findings",
    "strict_mode_error",
    "validate",
    "verdict_of",
]
