"""The schema of ``scenarios.yaml``: rows of (operation, match keys) -> outcome, checked when built.

The shape is named tuples (immutable, and ~4x cheaper to define than frozen dataclasses: every BaRS
function defines them at import; what the engine reads at run time, pydantic-free); pydantic
validates the YAML against them and :func:`check_table` applies the rules types cannot say: each row's
values (NHS numbers, ids, statuses), row ids are unique, every response a row names exists, a row only
matches on facts its operation has, no two rows of an operation can match the same request with equal
priority, and an error row's BaRS code agrees with its HTTP status. ``make tables`` compiles the
checked table into ``scenarios.pickle`` (see :mod:`tkw.tables`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Literal, NamedTuple

from tkw.message_kinds import MessageKind
from tkw.routes import Operation
from tkw.settings import EDITIONS, Edition
from tkw.tables import Table, TableError

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
_TEN_DIGITS = re.compile(r"^\d{10}$")  # an NHS number, a DoS service id
_SCENARIO_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ERROR_CODE = re.compile(r"^REC_[A-Z_]+$")


class Match(NamedTuple):
    """Sentinel elements; an absent key matches anything."""

    target: str | None = None  # NHSD-Target-Identifier value
    context: str | None = None  # MessageDefinition `context` service id
    healthcare_service: str | None = None  # Slot `Schedule.actor:HealthcareService`
    slot_status: frozenset[SlotStatus] | None = None  # Slot `status` values asked for
    kind: MessageKind | None = None  # $process-message classification
    nhs_number: str | None = None  # Patient NHS number, or "blank"
    resource_id: str | None = None  # id in the read path

    def keys(self) -> dict[str, object]:
        """The keys this row sets, with their values."""
        return {name: value for name in MATCH_KEYS if (value := getattr(self, name)) is not None}


MATCH_KEYS: tuple[str, ...] = Match._fields


class ErrorSpec(NamedTuple):
    code: str  # BaRS http-error-code, REC_...
    issue: IssueType
    diagnostics: str


class Outcome(NamedTuple):
    status: int  # 200..599
    response: str | None = None  # a key of `responses`
    resource_id: str | None = None  # the id the receiver assigns (message) or returns (read)
    error: ErrorSpec | None = None
    headers: dict[str, str] = {}


class ResourceResponse(NamedTuple):
    kind: Literal["resource"]
    file: str
    title: str


class MessageDefinitionsResponse(NamedTuple):
    kind: Literal["message-definitions"]
    files: list[str]  # at least one
    title: str


class SlotsResponse(NamedTuple):
    kind: Literal["slots"]
    file: str
    title: str


class MessageResponse(NamedTuple):
    kind: Literal["message"]
    title: str


class PatientSearchResponse(NamedTuple):
    kind: Literal["patient-search"]
    files: list[str]  # at least one
    title: str


# Told apart by `kind` (each class accepts only its own).
AnyResponse = ResourceResponse | MessageDefinitionsResponse | SlotsResponse | MessageResponse | PatientSearchResponse

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


class Scenario(NamedTuple):
    id: str  # lower-case letters, digits and '-'
    suite: Suite
    test: str
    application: str
    operation: Operation
    match: Match
    outcome: Outcome
    # The guide editions whose TKW table has this row; empty for the emulator's own rows.
    editions: list[Edition] = []
    # Set where the editions answer the same request differently: the row answers only in this one.
    only_in: Edition | None = None
    comment: str = ""

    @property
    def source(self) -> Literal["guide", "emulator"]:
        return "guide" if self.editions else "emulator"

    def answers_in(self, edition: Edition) -> bool:
        return self.only_in is None or self.only_in == edition


class CatalogueService(NamedTuple):
    """A service of the UserTest DoS table ("UserTest DoS Services" of the live TKW page)."""

    id: str  # 10 digits
    name: str
    comment: str = ""


class ScenarioTable(NamedTuple):
    version: Literal[1]
    responses: dict[str, AnyResponse]
    scenarios: list[Scenario]  # at least one
    usertest_dos: list[CatalogueService] = []
    # How the emulator reads the places where a guide page contradicts itself (shown in the docs).
    readings: list[str] = []


# ---- the rules types cannot say ----------------------------------------------------------------


def _check_match(match: Match) -> None:
    nhs_number = match.nhs_number
    if nhs_number is not None and nhs_number != BLANK_NHS_NUMBER and not _TEN_DIGITS.match(nhs_number):
        raise TableError(f"nhs_number must be 10 digits or {BLANK_NHS_NUMBER!r}, not {nhs_number!r}")
    if match.resource_id is not None and not _UUID.match(match.resource_id):
        raise TableError(f"resource_id must be a lower-case UUID, not {match.resource_id!r}")


def _check_outcome(outcome: Outcome) -> None:
    if not 200 <= outcome.status <= 599:
        raise TableError(f"status {outcome.status} is not an HTTP status (200-599)")
    if outcome.status == 200:
        if outcome.response is None or outcome.error is not None:
            raise TableError("a 200 outcome names a response and has no error")
    else:
        error = outcome.error
        if error is None or outcome.response is not None:
            raise TableError(f"a {outcome.status} outcome has an error and no response")
        if not _ERROR_CODE.match(error.code):
            raise TableError(f"error code {error.code!r} is not a BaRS code (REC_...)")
        if not error.diagnostics:
            raise TableError("an error has diagnostics")
        expected = ERROR_STATUS.get(error.code)
        if expected != outcome.status:
            raise TableError(f"{error.code} is HTTP {expected}, not {outcome.status}")
    if outcome.resource_id is not None and not _UUID.match(outcome.resource_id):
        raise TableError(f"resource_id must be a lower-case UUID, not {outcome.resource_id!r}")


def _check_scenario(s: Scenario) -> None:
    if not _SCENARIO_ID.match(s.id):
        raise TableError("the id is lower-case letters, digits and '-'")
    _check_match(s.match)
    _check_outcome(s.outcome)
    allowed = OPERATION_KEYS.get(s.operation)
    if allowed is None:
        raise TableError(f"{s.operation} is not answered by scenarios")
    extra = set(s.match.keys()) - allowed
    if extra:
        raise TableError(f"{s.operation} cannot match on {sorted(extra)}; it has {sorted(allowed)}")
    if s.operation is Operation.PROCESS_MESSAGE and s.match.kind is None and s.match.target is None:
        raise TableError("a process-message row must match a message kind or a target")
    if len(set(s.editions)) != len(s.editions):
        raise TableError("editions are listed once each")
    if s.only_in is not None and s.editions and s.only_in not in s.editions:
        raise TableError(f"a row of the {s.editions} table cannot answer only in {s.only_in}")


def check_table(table: ScenarioTable) -> None:
    """Every rule the YAML's types cannot express; raises :class:`TableError` naming the row."""
    if not table.scenarios:
        raise TableError("the table has no scenarios")
    for key, response in table.responses.items():
        if isinstance(response, MessageDefinitionsResponse | PatientSearchResponse) and not response.files:
            raise TableError(f"response {key}: a {response.kind} response lists its files")
    for service in table.usertest_dos:
        if not _TEN_DIGITS.match(service.id):
            raise TableError(f"usertest_dos: service id {service.id!r} is not 10 digits")
    for s in table.scenarios:
        try:
            _check_scenario(s)
        except TableError as problem:
            raise TableError(f"scenario {s.id}: {problem}") from None
    duplicates = [i for i, n in Counter(s.id for s in table.scenarios).items() if n > 1]
    if duplicates:
        raise TableError(f"duplicate scenario ids: {duplicates}")
    for s in table.scenarios:
        name = s.outcome.response
        if name is None:
            continue
        spec = table.responses.get(name)
        if spec is None:
            raise TableError(f"scenario {s.id}: unknown response {name!r}")
        if spec.kind not in _OPERATION_RESPONSES[s.operation]:
            raise TableError(f"scenario {s.id}: a {spec.kind} response cannot answer {s.operation}")
    # Rows of one operation with the same priority must use the same keys, so that the most
    # specific matching row is always unique; two rows may match the same requests only when they
    # answer in different editions (a conflict between the guide editions).
    shapes: dict[tuple[Operation, tuple[bool, int]], tuple[frozenset[str], str]] = {}
    seen: dict[tuple[Operation, tuple[tuple[str, object], ...], Edition], str] = {}
    for s in table.scenarios:
        keys = s.match.keys()
        shape = frozenset(keys)
        other = shapes.setdefault((s.operation, priority(keys)), (shape, s.id))
        if other[0] != shape:
            raise TableError(f"scenarios {other[1]} and {s.id} could both match one request")
        signature = tuple(sorted((k, repr(v)) for k, v in keys.items()))
        for edition in EDITIONS:
            if not s.answers_in(edition):
                continue
            clash = seen.setdefault((s.operation, signature, edition), s.id)
            if clash != s.id:
                raise TableError(f"scenarios {clash} and {s.id} match the same requests")
    # Every request finds a row in each edition: each operation has a fallback, each message kind
    # a kind-only row.
    missing: list[str] = []
    for edition in EDITIONS:
        rows = [s for s in table.scenarios if s.answers_in(edition)]
        fallbacks = {s.operation for s in rows if not s.match.keys()}
        missing += sorted(str(op) for op in set(OPERATION_KEYS) - {Operation.PROCESS_MESSAGE} - fallbacks)
        kinds = {s.match.kind for s in rows if set(s.match.keys()) == {"kind"}}
        missing += sorted(f"{Operation.PROCESS_MESSAGE} {k}" for k in set(MessageKind) - kinds)
    if missing:
        raise TableError(f"no fallback row for: {', '.join(sorted(set(missing)))}")


SCENARIO_TABLE: Table[ScenarioTable] = Table(
    package="tkw.scenarios", source="scenarios.yaml", schema=ScenarioTable, check=check_table
)
