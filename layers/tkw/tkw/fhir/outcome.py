"""OperationOutcome errors in the BaRS shape (BARS-API.md §5).

Every error the emulator returns is a :class:`BarsError`; the pipeline turns it into an
OperationOutcome with the BaRS code in ``details.coding`` and a valid FHIR IssueType code.
Diagnostics never carry patient data or stack traces.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tkw.http import ApiResponse

HTTP_ERROR_CODES_SYSTEM = "https://fhir.nhs.uk/Codesystem/http-error-codes"
OUTCOME_PROFILE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-OperationOutcome"


class Issue(NamedTuple):
    code: str  # FHIR IssueType, e.g. "invalid", "not-found"
    bars_code: str  # BaRS http-error-code, e.g. "REC_BAD_REQUEST"
    diagnostics: str
    severity: str = "error"
    expression: tuple[str, ...] = ()  # FHIRPath-like element paths in the body
    location: tuple[str, ...] = ()  # HTTP headers, as FHIR spells them: "http.X-Request-Id"

    def to_fhir(self) -> dict[str, Any]:
        issue: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "details": {"coding": [{"system": HTTP_ERROR_CODES_SYSTEM, "code": self.bars_code}]},
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            issue["expression"] = list(self.expression)
        if self.location:
            issue["location"] = list(self.location)
        return issue


def operation_outcome(*issues: Issue) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [OUTCOME_PROFILE]},
        "issue": [i.to_fhir() for i in issues],
    }


@dataclass(slots=True)
class BarsError(Exception):
    """An error answer: HTTP status plus one or more OperationOutcome issues."""

    status: int
    issues: tuple[Issue, ...]
    headers: dict[str, str] = field(default_factory=dict)
    # Some receiver sentinels (TKW's 408, a receiver's bare 503) answer with no body at all.
    empty_body: bool = False
    # A platform answer that is always the same body (the proxy's static faults), served verbatim.
    fixed_body: dict[str, Any] | None = None

    @classmethod
    def of(
        cls,
        status: int,
        bars_code: str,
        code: str,
        diagnostics: str,
        *,
        expression: str | None = None,
        header: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> BarsError:
        """One issue; ``expression`` names a body element, ``header`` the HTTP header at fault."""
        issue = Issue(
            code=code,
            bars_code=bars_code,
            diagnostics=diagnostics,
            expression=(expression,) if expression else (),
            location=(f"http.{header}",) if header else (),
        )
        return cls(status=status, issues=(issue,), headers=headers or {})

    def __str__(self) -> str:
        return f"{self.status} {'; '.join(f'{i.bars_code} {i.code}: {i.diagnostics}' for i in self.issues)}"

    def outcome(self) -> dict[str, Any]:
        if self.fixed_body is not None:
            return copy.deepcopy(self.fixed_body)
        return operation_outcome(*self.issues)

    def to_response(self) -> ApiResponse:
        return ApiResponse(
            status=self.status, body=None if self.empty_body else self.outcome(), headers=dict(self.headers)
        )


def server_error(what: str = "handling this request") -> BarsError:
    """The 500 every unexpected failure becomes: never a stack trace, always a pointer to the logs."""
    return BarsError.of(
        500,
        "REC_SERVER_ERROR",
        "exception",
        f"The emulator failed unexpectedly while {what}; the error is logged under this request's X-Correlation-Id.",
    )
