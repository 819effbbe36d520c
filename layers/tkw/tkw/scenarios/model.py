"""The schema of ``scenarios.yaml``: rows of (operation, match keys) -> outcome, checked at load.

Besides field types, the table as a whole is checked: row ids are unique, every response a row names
exists, a row only matches on facts its operation has, no two rows of an operation can match the
same request with equal priority, and an error row's BaRS code agrees with its HTTP status.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tkw.message_kinds import MessageKind
from tkw.routes import Operation
from tkw.settings import EDITIONS, Edition

SlotStatus = Literal["free", "busy"]
Suite = Literal["Capability", "MessageDef", "Booking", "Referral", "Validation", "Response"]
BLANK_NHS_NUMBER = "blank"  # the sentinel "Patient.identifier (NHS No.) blank"

# Which request facts each operation exposes to matching (see engine._FACTS).
OPERATION_KEYS: dict[Operation, frozenset[str]] = {
    Operation.METADATA: frozenset({"target"}),
    Operation.MESSAGE_DEFINITION_SEARCH: frozenset({"context"}),
    Operation.SLOT_SEARCH: frozenset({"healthcare_service", "slot_status"}),
    Operation.PROCESS_MESSAGE: frozenset({"kind", "nhs_number", "target"}),
    Operation.APPOINTMENT_READ: frozenset({"resource_id"}),
    Operation.SERVICE_REQUEST_READ: frozenset({"resource_id"}),
    Operation.APPOINTMENT_SEARCH: frozenset(),
    Operation.SERVICE_REQUEST_SEARCH: frozenset(),
}

# The HTTP status each receiver error code belongs to (BARS-API.md §5.2).
ERROR_STATUS: dict[str, int] = {
    "REC_BAD_REQUEST": 400,
    "REC_UNAUTHORIZED": 401,
    "REC_FORBIDDEN": 403,
    "REC_NOT_FOUND": 404,
    "REC_METHOD_NOT_ALLOWED": 405,
    "REC_NOT_ACCEPTABLE": 406,
    "REC_TIMEOUT": 408,
    "REC_CONFLICT": 409,
    "REC_UNPROCESSABLE_ENTITY": 422,
    "REC_TOO_MANY_REQUESTS": 429,
    "REC_SERVER_ERROR": 500,
    "REC_NOT_IMPLEMENTED": 501,
    "REC_SERVICE_UNAVAILABLE": 503,
}

# FHIR R4 IssueType codes (http://hl7.org/fhir/issue-type): only real ones may be served.
IssueType = Literal[
    "invalid",
    "structure",
    "required",
    "value",
    "invariant",
    "security",
    "login",
    "unknown",
    "expired",
    "forbidden",
    "suppressed",
    "processing",
    "not-supported",
    "duplicate",
    "multiple-matches",
    "not-found",
    "deleted",
    "too-long",
    "code-invalid",
    "extension",
    "too-costly",
    "business-rule",
    "conflict",
    "transient",
    "lock-error",
    "no-store",
    "exception",
    "timeout",
    "incomplete",
    "throttled",
    "informational",
]

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_NHS_NUMBER = re.compile(r"^\d{10}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Strict):
    """Sentinel elements; an absent key matches anything."""

    target: str | None = None  # NHSD-Target-Identifier value
    context: str | None = None  # MessageDefinition `context` service id
    healthcare_service: str | None = None  # Slot `Schedule.actor:HealthcareService`
    slot_status: frozenset[SlotStatus] | None = None  # Slot `status` values asked for
    kind: MessageKind | None = None  # $process-message classification
    nhs_number: str | None = None  # Patient NHS number, or "blank"
    resource_id: str | None = None  # id in the read path

    @field_validator("nhs_number")
    @classmethod
    def _nhs_number(cls, value: str | None) -> str | None:
        if value is not None and value != BLANK_NHS_NUMBER and not _NHS_NUMBER.match(value):
            raise ValueError(f"nhs_number must be 10 digits or {BLANK_NHS_NUMBER!r}, not {value!r}")
        return value

    @field_validator("resource_id")
    @classmethod
    def _resource_id(cls, value: str | None) -> str | None:
        if value is not None and not _UUID.match(value):
            raise ValueError(f"resource_id must be a lower-case UUID, not {value!r}")
        return value

    def keys(self) -> dict[str, object]:
        """The keys this row sets, with their values."""
        return {name: value for name, value in self if value is not None}


class ErrorSpec(_Strict):
    code: str = Field(pattern=r"^REC_[A-Z_]+$")  # BaRS http-error-code
    issue: IssueType
    diagnostics: str = Field(min_length=1)


class Outcome(_Strict):
    status: int = Field(ge=200, le=599)
    response: str | None = None  # a key of `responses`
    resource_id: str | None = None  # the id the receiver assigns (message) or returns (read)
    error: ErrorSpec | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _success_or_error(self) -> Outcome:
        if self.status == 200:
            if self.response is None or self.error is not None:
                raise ValueError("a 200 outcome names a response and has no error")
        else:
            if self.error is None or self.response is not None:
                raise ValueError(f"a {self.status} outcome has an error and no response")
            expected = ERROR_STATUS.get(self.error.code)
            if expected != self.status:
                raise ValueError(f"{self.error.code} is HTTP {expected}, not {self.status}")
        if self.resource_id is not None and not _UUID.match(self.resource_id):
            raise ValueError(f"resource_id must be a lower-case UUID, not {self.resource_id!r}")
        return self


class ResourceResponse(_Strict):
    kind: Literal["resource"]
    file: str
    title: str


class MessageDefinitionsResponse(_Strict):
    kind: Literal["message-definitions"]
    files: list[str] = Field(min_length=1)
    title: str


class SlotsResponse(_Strict):
    kind: Literal["slots"]
    file: str
    title: str


class MessageResponse(_Strict):
    kind: Literal["message"]
    title: str


class PatientSearchResponse(_Strict):
    kind: Literal["patient-search"]
    files: list[str] = Field(min_length=1)
    title: str


AnyResponse = ResourceResponse | MessageDefinitionsResponse | SlotsResponse | MessageResponse | PatientSearchResponse
ResponseSpec = Annotated[AnyResponse, Field(discriminator="kind")]

# Which response kinds make sense for which operation.
_OPERATION_RESPONSES: dict[Operation, frozenset[str]] = {
    Operation.METADATA: frozenset({"resource"}),
    Operation.MESSAGE_DEFINITION_SEARCH: frozenset({"message-definitions"}),
    Operation.SLOT_SEARCH: frozenset({"slots"}),
    Operation.PROCESS_MESSAGE: frozenset({"message"}),
    Operation.APPOINTMENT_READ: frozenset({"resource"}),
    Operation.SERVICE_REQUEST_READ: frozenset({"resource"}),
    Operation.APPOINTMENT_SEARCH: frozenset({"patient-search"}),
    Operation.SERVICE_REQUEST_SEARCH: frozenset({"patient-search"}),
}


def priority(keys: Mapping[str, object]) -> tuple[bool, int]:
    """Rows are tried highest first: a row naming the target (an Application's service) before any
    row that does not, then the row with more keys."""
    return ("target" in keys, len(keys))


class Scenario(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    # The guide editions whose TKW table has this row; empty for the emulator's own rows.
    editions: list[Edition] = Field(default_factory=list)
    # Set where the editions answer the same request differently: the row answers only in this one.
    only_in: Edition | None = None
    suite: Suite
    test: str
    application: str
    operation: Operation
    match: Match
    outcome: Outcome
    comment: str = ""

    @property
    def source(self) -> Literal["guide", "emulator"]:
        return "guide" if self.editions else "emulator"

    def answers_in(self, edition: Edition) -> bool:
        return self.only_in is None or self.only_in == edition

    @model_validator(mode="after")
    def _keys_fit_operation(self) -> Scenario:
        allowed = OPERATION_KEYS.get(self.operation)
        if allowed is None:
            raise ValueError(f"{self.operation} is not answered by scenarios")
        extra = set(self.match.keys()) - allowed
        if extra:
            raise ValueError(f"{self.operation} cannot match on {sorted(extra)}; it has {sorted(allowed)}")
        if self.operation is Operation.PROCESS_MESSAGE and self.match.kind is None and self.match.target is None:
            raise ValueError("a process-message row must match a message kind or a target")
        if len(set(self.editions)) != len(self.editions):
            raise ValueError("editions are listed once each")
        if self.only_in is not None and self.editions and self.only_in not in self.editions:
            raise ValueError(f"a row of the {self.editions} table cannot answer only in {self.only_in}")
        return self


class CatalogueService(_Strict):
    """A service of the UserTest DoS table ("UserTest DoS Services" of the live TKW page)."""

    id: str = Field(pattern=r"^\d{10}$")
    name: str
    comment: str = ""


class ScenarioTable(_Strict):
    version: Literal[1]
    responses: dict[str, ResponseSpec]
    scenarios: list[Scenario] = Field(min_length=1)
    usertest_dos: list[CatalogueService] = Field(default_factory=list)
    # How the emulator reads the places where a guide page contradicts itself (shown in the docs).
    readings: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> ScenarioTable:
        duplicates = [i for i, n in Counter(s.id for s in self.scenarios).items() if n > 1]
        if duplicates:
            raise ValueError(f"duplicate scenario ids: {duplicates}")
        for s in self.scenarios:
            name = s.outcome.response
            if name is None:
                continue
            spec = self.responses.get(name)
            if spec is None:
                raise ValueError(f"scenario {s.id}: unknown response {name!r}")
            if spec.kind not in _OPERATION_RESPONSES[s.operation]:
                raise ValueError(f"scenario {s.id}: a {spec.kind} response cannot answer {s.operation}")
        # Rows of one operation with the same priority must use the same keys, so that the most
        # specific matching row is always unique; two rows may match the same requests only when they
        # answer in different editions (a conflict between the guide editions).
        shapes: dict[tuple[Operation, tuple[bool, int]], tuple[frozenset[str], str]] = {}
        seen: dict[tuple[Operation, tuple[tuple[str, object], ...], Edition], str] = {}
        for s in self.scenarios:
            keys = s.match.keys()
            shape = frozenset(keys)
            other = shapes.setdefault((s.operation, priority(keys)), (shape, s.id))
            if other[0] != shape:
                raise ValueError(f"scenarios {other[1]} and {s.id} could both match one request")
            signature = tuple(sorted((k, repr(v)) for k, v in keys.items()))
            for edition in EDITIONS:
                if not s.answers_in(edition):
                    continue
                clash = seen.setdefault((s.operation, signature, edition), s.id)
                if clash != s.id:
                    raise ValueError(f"scenarios {clash} and {s.id} match the same requests")
        # Every request finds a row in each edition: each operation has a fallback, each message kind
        # a kind-only row.
        missing: list[str] = []
        for edition in EDITIONS:
            rows = [s for s in self.scenarios if s.answers_in(edition)]
            fallbacks = {s.operation for s in rows if not s.match.keys()}
            missing += sorted(str(op) for op in set(OPERATION_KEYS) - {Operation.PROCESS_MESSAGE} - fallbacks)
            kinds = {s.match.kind for s in rows if set(s.match.keys()) == {"kind"}}
            missing += sorted(f"{Operation.PROCESS_MESSAGE} {k}" for k in set(MessageKind) - kinds)
        if missing:
            raise ValueError(f"no fallback row for: {', '.join(sorted(set(missing)))}")
        return self
