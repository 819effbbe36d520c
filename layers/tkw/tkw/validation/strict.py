"""Strict mode: a request with error findings is refused instead of answered by its scenario.

DESIGN.md §3: only what the BaRS proxy rejects is enforced by default; with ``STRICT_MODE`` on,
every failed error-severity finding becomes one OperationOutcome issue of a 400 REC_BAD_REQUEST.
"""

from __future__ import annotations

from collections.abc import Iterable

from tkw.fhir.outcome import BarsError, Issue
from tkw.validation.findings import Finding, error_findings

STRICT_STATUS = 400
STRICT_BARS_CODE = "REC_BAD_REQUEST"


def strict_mode_error(findings: Iterable[Finding]) -> BarsError | None:
    """The 400 REC_BAD_REQUEST for the failed error findings, or None when there are none."""
    failures = error_findings(findings)
    if not failures:
        return None
    issues = tuple(
        Issue(
            code=finding.issue_code,
            bars_code=STRICT_BARS_CODE,
            diagnostics=f"[{finding.id}] {finding.message}",
            expression=(finding.location,) if finding.location else (),
            # Headers are also named where FHIR puts HTTP locations.
            location=(finding.location,) if finding.location.startswith("http.") else (),
        )
        for finding in failures
    )
    return BarsError(status=STRICT_STATUS, issues=issues)
