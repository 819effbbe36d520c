"""What a receiver run is and produces: the run request, check and test results, the run record."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tkw.receiver.suite import ApplicationId, Severity, SuiteKind

TestStatus = Literal["pending", "passed", "failed", "skipped"]
RunStatus = Literal["queued", "running", "passed", "failed", "error"]
FINISHED: frozenset[str] = frozenset({"passed", "failed", "error"})

# Header values that are secrets for the receiver: kept for sending, never shown or reported.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "apikey", "x-api-key"})
# Headers the suite controls: a run may not override them (the checks depend on them).
RESERVED_HEADERS = frozenset(
    {"x-request-id", "x-correlation-id", "nhsd-target-identifier", "content-type", "content-length", "host"}
)
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
REDACTED = "[redacted]"


def redact(headers: dict[str, str]) -> dict[str, str]:
    return {k: (REDACTED if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


class CheckResult(BaseModel):
    id: str
    passed: bool
    severity: Severity
    message: str  # "expected ..., found ..."


class SentRequest(BaseModel):
    method: str
    url: str
    headers: dict[str, str]  # as sent, secrets redacted
    body: str | None = None


class ReceivedResponse(BaseModel):
    status: int
    headers: dict[str, str]
    body: str
    elapsed_ms: float
    truncated: bool = False
    # True when nothing came back and TKW answers as the BaRS proxy would (TLS-MA failure: 403,
    # timeout: 408), so the report shows what a sender would have seen.
    synthesized: bool = False


class TestResult(BaseModel):
    __test__ = False  # not a pytest test class, whatever its name
    test_id: str
    name: str
    group: str
    application: str = ""  # the BaRS Application ("1", "3", "4", "5", "6")
    suite: str = ""  # "happy" or "error"
    status: TestStatus
    message: str = ""  # one line: why it failed, or that it passed
    checks: list[CheckResult] = []
    started_at: str | None = None
    duration_ms: float | None = None
    response_status: int | None = None
    request: SentRequest | None = None
    response: ReceivedResponse | None = None

    def summary(self) -> TestResult:
        """Without the exchange: what the run record (DynamoDB) and progress polling carry."""
        return self.model_copy(update={"request": None, "response": None})


class RunSummary(BaseModel):
    total: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    pending: int = 0

    @classmethod
    def of(cls, results: list[TestResult]) -> RunSummary:
        counts = {s: sum(1 for r in results if r.status == s) for s in ("passed", "failed", "skipped", "pending")}
        return cls(total=len(results), **counts)


class RunOptions(BaseModel):
    """``POST /tkw/receiver-runs``: where to send the suite and how."""

    model_config = ConfigDict(extra="forbid")

    endpoint: str = Field(description="The receiver's BaRS base URL, e.g. https://host/booking-and-referral/FHIR/R4")
    target_identifier: str = Field(min_length=1, max_length=64, description="The receiver's DoS service id")
    target_system: str = "https://fhir.nhs.uk/Id/dos-service-id"
    tests: list[str] | None = Field(default=None, description="Test ids; or choose with application and suites")
    application: ApplicationId | None = Field(
        default=None, description='The BaRS Application whose tests to run: "1", "3", "4", "5" or "6"'
    )
    suites: list[SuiteKind] | None = Field(
        default=None, min_length=1, description='"happy", "error" or both (the default)'
    )
    headers: dict[str, str] = {}
    client_cert: str | None = Field(default=None, description="PEM client certificate (chain) for TLS-MA")
    client_key: str | None = Field(default=None, description="PEM private key of client_cert")
    ca_bundle: str | None = Field(
        default=None, description="PEM CA certificates the receiver's certificate must chain to"
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=30)

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"}:
            raise ValueError("must be an http:// or https:// URL")
        if not parts.hostname:
            raise ValueError("must name a host")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials; send them as headers")
        if parts.query or parts.fragment:
            raise ValueError("must be a base URL without query or fragment")
        try:
            _ = parts.port
        except ValueError:
            raise ValueError("has an invalid port") from None
        return value.rstrip("/")

    @field_validator("target_identifier")
    @classmethod
    def _plain(cls, value: str) -> str:
        value = value.strip()
        if not re.fullmatch(r"[A-Za-z0-9._-]+", value):
            raise ValueError("must be a service id (letters, digits, '.', '_' or '-')")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid header name")
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"{name} is set by the suite and cannot be overridden")
            if any(c in text for c in "\r\n\0"):
                raise ValueError(f"the value of {name} contains a line break")
        return value

    @model_validator(mode="after")
    def _pairs(self) -> RunOptions:
        if bool(self.client_cert) != bool(self.client_key):
            raise ValueError("client_cert and client_key go together: give both or neither")
        if (self.client_cert or self.ca_bundle) and not self.endpoint.startswith("https://"):
            raise ValueError("client_cert, client_key and ca_bundle need an https:// endpoint")
        return self


class RunRecord(BaseModel):
    """A run as stored and shown (never holds keys, certificates or secret header values)."""

    run_id: str
    status: RunStatus
    # Whose run: the ODS code of NHSD-End-User-Organisation (runs are listed and read per organisation).
    organisation: str = "_UNIDENTIFIED"
    endpoint: str
    target_identifier: str
    tests: list[str]
    application: str | None = None  # as asked for: the Application chosen, if any
    suites: list[str] = []  # as asked for: the suites chosen (empty: not narrowed)
    headers: dict[str, str] = {}  # extra headers, secrets redacted
    mutual_tls: bool = False
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    reason: str | None = None
    summary: RunSummary = RunSummary()
    suite_version: str = ""


class RunReport(BaseModel):
    """The JSON report: the record of a finished run, every exchange included."""

    run: RunRecord
    suite: str
    results: list[TestResult]
