"""Profile findings: a message checked against the BaRS, UK Core and FHIR R4 profiles.

Kept apart from the request-path rules (:mod:`tkw.validation.engine`): profile validation runs where
reports are produced, and on the request path only in strict mode, where its errors refuse the
request like any other error finding. :func:`profile_findings` is the one call either place makes.
"""

from __future__ import annotations

import logging
from typing import Any

from tkw.profiles import ProfileIssue, validate_body
from tkw.validation.engine import capped
from tkw.validation.findings import PROFILE_PACKAGES_CHECK, Finding, Severity

logger = logging.getLogger(__name__)

_SEVERITY: dict[str, Severity] = {"error": "error", "warning": "warning", "information": "info"}
# Profile validation reads every element; past this many entries a Bundle is not profiled (the
# structure checks still run), so an oversized message cannot hold a worker for seconds.
MAX_PROFILED_ENTRIES = 1000


def _finding(issue: ProfileIssue, *, suppressed_because: str | None = None) -> Finding:
    message = issue.describe()
    if suppressed_because is not None:
        message = f"Known quirk, not counted: {message} Why: {suppressed_because.strip()}"
    return Finding(
        id=f"profile.{issue.rule}",
        category="profile",
        severity="info" if suppressed_because is not None else _SEVERITY[issue.severity],
        passed=suppressed_because is not None,
        message=message,
        location=issue.expression,
        issue_code=issue.code,
        resource=issue.resource,
        profile=issue.profile,
        element=issue.element,
        expected=issue.expected,
        found=issue.found,
    )


def profile_findings(body: Any) -> list[Finding]:
    """What the profiles say about a FHIR JSON body: every issue, the quirks set aside (as passed,
    with their reason), and which profiles each resource was validated against, in which versions."""
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        return []
    entries = body.get("entry")
    if isinstance(entries, list) and len(entries) > MAX_PROFILED_ENTRIES:
        return [
            Finding(
                id="profile.skipped",
                category="profile",
                severity="info",
                passed=False,
                message=f"The Bundle has {len(entries)} entries; profile validation runs on Bundles of up to "
                f"{MAX_PROFILED_ENTRIES}, so this one was not checked against the profiles.",
                location="Bundle.entry",
                issue_code="too-costly",
            )
        ]
    try:
        report = validate_body(body)
    except Exception:  # a validator bug must never cost the sender its answer or its report
        logger.exception("Profile validation failed")
        return [
            Finding(
                id="profile.exception",
                category="profile",
                severity="info",
                passed=False,
                message="The emulator could not run profile validation on this message; it is not counted.",
                issue_code="exception",
            )
        ]
    findings = capped([_finding(issue) for issue in report.issues])
    findings += [_finding(issue, suppressed_because=reason) for issue, reason in report.suppressed]
    for expression, profiles in report.applied:
        findings.append(
            Finding(
                id="profile.applied",
                category="profile",
                severity="info",
                passed=True,
                message=f"Validated against {', '.join(profiles)}.",
                location=expression,
            )
        )
    findings.append(
        Finding(
            id=PROFILE_PACKAGES_CHECK,
            category="profile",
            severity="info",
            passed=True,
            message=f"Profiles, ValueSets and CodeSystems from {report.packages}.",
        )
    )
    return findings
