"""Findings: what one validation check concluded about one place in a request.

A finding is recorded whether the check passed or failed, so a report shows what was checked as
well as what went wrong. ``severity`` is how much a *failure* of the check matters: a failed
``error`` fails the report, a failed ``warning`` gives it the ``warnings`` verdict, ``info`` never
changes the verdict.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

Severity = Literal["error", "warning", "info"]
# delivery: how a sender's endpoint answered a response the emulator sent it.
Category = Literal["headers", "structure", "message", "query", "application", "profile", "delivery"]
Verdict = Literal["pass", "fail", "warnings"]

# The BaRS error a conforming receiver answers with for most request faults (BARS-API.md §5.2).
DEFAULT_BARS_CODE = "REC_BAD_REQUEST"
# The finding every profile-validated report carries, naming the FHIR package versions used.
PROFILE_PACKAGES_CHECK = "profile.packages"


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str  # stable check id, e.g. "header.x-request-id.uuid"
    category: Category
    severity: Severity
    passed: bool
    message: str  # what was expected, where, and what was found; never patient data
    # Where: "http.X-Request-Id" (a header), "query.start" (a search parameter), "path.id", or a
    # FHIRPath-like element path such as "Bundle.entry[2].resource(Patient).birthDate".
    location: str = ""
    issue_code: str = "invalid"  # FHIR IssueType for an OperationOutcome issue about this finding
    bars_code: str = DEFAULT_BARS_CODE  # what a conforming BaRS receiver would answer on failure
    # Profile findings (category "profile") also say which rule demanded what: the resource they are
    # about ("Bundle.entry[3].resource (ServiceRequest)"), the profile's canonical url, its element id,
    # and what was expected and found.
    resource: str = ""
    profile: str = ""
    element: str = ""
    expected: str = ""
    found: str = ""

    @property
    def is_failure(self) -> bool:
        """Failed and severe enough to fail the report."""
        return not self.passed and self.severity == "error"

    @property
    def is_warning(self) -> bool:
        return not self.passed and self.severity == "warning"


def verdict_of(findings: Iterable[Finding]) -> Verdict:
    warned = False
    for finding in findings:
        if finding.is_failure:
            return "fail"
        warned = warned or finding.is_warning
    return "warnings" if warned else "pass"


def error_findings(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.is_failure]
