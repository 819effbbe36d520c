"""Validation: checks of a BaRS request that produce findings for the sender's report.

Entry point: :func:`validate`. Rules are small named functions grouped by category in
:mod:`~tkw.validation.header_rules`, :mod:`~tkw.validation.structure_rules`, :mod:`~tkw.validation.message_rules`
and :mod:`~tkw.validation.query_rules`; :func:`strict_mode_error` turns error findings into a 400.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tkw.lazy import lazy_attributes

if TYPE_CHECKING:
    from tkw.validation.context import ValidationInput
    from tkw.validation.engine import RULES, validate
    from tkw.validation.findings import Category, Finding, Severity, Verdict, error_findings, verdict_of
    from tkw.validation.strict import strict_mode_error

# Imported on first use (PEP 562): the request path needs only the findings model, and loading
# every rule module would add to each function's cold start.
_HOME = {
    "ValidationInput": "context",
    "RULES": "engine",
    "validate": "engine",
    "Category": "findings",
    "Finding": "findings",
    "Severity": "findings",
    "Verdict": "findings",
    "error_findings": "findings",
    "verdict_of": "findings",
    "strict_mode_error": "strict",
}


__getattr__ = lazy_attributes(__name__, _HOME)


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
