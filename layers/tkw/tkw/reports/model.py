"""The validation report record: one BaRS exchange, what was found, and the verdict.

The JSON form of :class:`ReportRecord` is the record kept in S3; the HTML report and the index
item are derived from it. Secrets never enter it: ``Authorization`` (and the other credential
headers below) are redacted when the record is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tkw.applications import Judgement
from tkw.encoded_headers import TargetIdentifier
from tkw.http import ApiRequest, ApiResponse
from tkw.reports.job import new_report_id
from tkw.routes import Operation
from tkw.validation.findings import Finding, Verdict, verdict_of

SCHEMA_VERSION: Literal[1] = 1
REDACTED = "[redacted]"
# Credentials a sender may put in headers; their values never reach a report.
REDACTED_HEADERS = frozenset({"authorization", "proxy-authorization", "apikey", "x-api-key", "cookie"})


class ExchangeRecord(BaseModel):
    """The HTTP exchange as the emulator saw it."""

    model_config = ConfigDict(frozen=True)

    method: str
    path: str
    query: dict[str, list[str]] = Field(default_factory=dict)
    request_headers: dict[str, list[str]] = Field(default_factory=dict)
    request_body: str | None = None
    response_status: int
    response_headers: dict[str, str] = Field(default_factory=dict)
    response_body: str | None = None


class FindingCounts(BaseModel):
    model_config = ConfigDict(frozen=True)

    errors: int = 0  # failed error-severity findings
    warnings: int = 0  # failed warnings
    info: int = 0  # informational notes (never change the verdict)
    passed: int = 0  # checks that passed

    @classmethod
    def of(cls, findings: Iterable[Finding]) -> FindingCounts:
        errors = warnings = info = passed = 0
        for finding in findings:
            if finding.passed:
                passed += 1
            elif finding.severity == "error":
                errors += 1
            elif finding.severity == "warning":
                warnings += 1
            else:
                info += 1
        return cls(errors=errors, warnings=warnings, info=info, passed=passed)


Direction = Literal["inbound", "outbound"]
ResponseStatus = Literal["queued", "sent", "failed", "not-sent"]


class ResponseLink(BaseModel):
    """A response the emulator sent (or could not send) to the sender because of this request."""

    model_config = ConfigDict(frozen=True)

    kind: str  # interim, full, full-update, reject, dna, out-of-area
    title: str
    step: int = 0  # its place in the trigger's sequence
    status: ResponseStatus
    summary: str  # what happened, plainly: "sent; the endpoint answered HTTP 200" / why not
    report_id: str | None = None  # the outbound report (the message is in it, for download)
    endpoint: str | None = None
    http_status: int | None = None


class ReportRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str
    time: datetime  # when the request was received, UTC
    organisation: str  # ODS code from NHSD-End-User-Organisation, or UNIDENTIFIED_ORGANISATION
    target: str | None = None  # NHSD-Target-Identifier as system|value
    operation: str | None = None  # tkw.routes.Operation value, e.g. "process-message"
    request_id: str | None = None  # X-Request-Id
    correlation_id: str | None = None  # X-Correlation-Id
    scenario: str | None = None  # the scenario that answered, e.g. "booking-new/9476719931"
    # Which Application and use case the request was judged against, and why (None: not judged).
    judged_against: Judgement | None = None
    exchange: ExchangeRecord
    findings: list[Finding] = Field(default_factory=list)
    verdict: Verdict
    counts: FindingCounts = Field(default_factory=FindingCounts)
    # inbound: a request a sender made; outbound: a response the emulator sent to a sender's endpoint.
    direction: Direction = "inbound"
    trigger_report_id: str | None = None  # outbound: the report of the request that triggered it
    responses: list[ResponseLink] = Field(default_factory=list)  # inbound: the responses it triggered

    @field_validator("time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @property
    def failures(self) -> list[Finding]:
        """Failed findings, worst first: errors, then warnings, then information."""
        order = {"error": 0, "warning": 1, "info": 2}
        return sorted((f for f in self.findings if not f.passed), key=lambda f: order[f.severity])

    @property
    def passes(self) -> list[Finding]:
        return [f for f in self.findings if f.passed]

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> ReportRecord:
        return cls.model_validate_json(text)


def redact_headers(headers: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Header values as sent, with credentials replaced (the scheme of an Authorization is kept)."""
    redacted: dict[str, list[str]] = {}
    for name, values in headers.items():
        if name.lower() in REDACTED_HEADERS:
            redacted[name] = [_redact(name, v) for v in values]
        else:
            redacted[name] = list(values)
    return redacted


def _redact(name: str, value: str) -> str:
    if name.lower() in ("authorization", "proxy-authorization"):
        scheme, _, credentials = value.strip().partition(" ")
        # Keep "Bearer" so a report can still say which scheme was sent.
        return f"{scheme} {REDACTED}" if credentials else REDACTED
    return REDACTED


def body_text(body: bytes | str | None) -> str | None:
    if body is None:
        return None
    if isinstance(body, str):
        return body
    return body.decode("utf-8", errors="replace")


def build_report(
    *,
    request: ApiRequest,
    response: ApiResponse,
    findings: Sequence[Finding],
    organisation: str,
    target: TargetIdentifier | None = None,
    operation: str | None = None,
    scenario: str | None = None,
    report_id: str | None = None,
    time: datetime | None = None,
    judged_against: Judgement | None = None,
    responses: Sequence[ResponseLink] = (),
) -> ReportRecord:
    """The record of one exchange. ``time`` defaults to the request's API Gateway time, else now;
    ``judged_against`` defaults to the judgement of the request (tkw.validation.application_rules)."""
    if time is None:
        time = (
            datetime.fromtimestamp(request.request_time_epoch_ms / 1000, UTC)
            if request.request_time_epoch_ms
            else datetime.now(UTC)
        )
    exchange = ExchangeRecord(
        method=request.method,
        path=request.path,
        query={k: list(v) for k, v in request.query.items()},
        request_headers=redact_headers(request.headers),
        request_body=body_text(request.body),
        response_status=response.status,
        response_headers=dict(response.headers) | {"Content-Type": response.content_type},
        response_body=response.body_text() if response.body is not None else None,
    )
    if judged_against is None:
        judged_against = _judgement(operation, request, target)
    return ReportRecord(
        id=report_id or new_report_id(),
        time=time,
        organisation=organisation,
        target=target.token if target is not None else None,
        operation=str(operation) if operation is not None else None,
        request_id=request.request_id,
        correlation_id=request.correlation_id,
        scenario=scenario,
        judged_against=judged_against,
        exchange=exchange,
        findings=list(findings),
        verdict=verdict_of(findings),
        counts=FindingCounts.of(findings),
        responses=list(responses),
    )


def _judgement(operation: str | None, request: ApiRequest, target: TargetIdentifier | None) -> Judgement | None:
    """Which Application the request is judged against; never a reason to lose the report."""
    try:
        from tkw.validation.application_rules import judgement_for

        return judgement_for(Operation(str(operation)), request, target) if operation else None
    except Exception:  # an unknown operation name, an unreadable body: the report goes without it
        return None


def summary_fields(record: ReportRecord) -> dict[str, Any]:
    """What an index entry and a listing show about a report (no bodies, no headers)."""
    return {
        "id": record.id,
        "time": record.time.isoformat().replace("+00:00", "Z"),
        "organisation": record.organisation,
        "verdict": record.verdict,
        "operation": record.operation,
        "method": record.exchange.method,
        "path": record.exchange.path,
        "status": record.exchange.response_status,
        "target": record.target,
        "scenario": record.scenario,
        "application": record.judged_against.application if record.judged_against else None,
        "use_case": record.judged_against.use_case if record.judged_against else None,
        "correlation_id": record.correlation_id,
        "request_id": record.request_id,
        "errors": record.counts.errors,
        "warnings": record.counts.warnings,
        "direction": record.direction,
        "trigger_report_id": record.trigger_report_id,
    }
