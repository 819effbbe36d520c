"""BaRS terminology and MessageDefinition cardinalities the rules check against, as data.

Sources: BARS-API.md §6 (code systems, identifiers) and §8.2. Cardinalities are read from the IG's
MessageDefinition resources the layer ships (``tkw/scenarios/resources/message-definitions``); where
a definition lists a type twice with different profiles (Flag, Location in the referral), the
widest range is kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Final

from tkw.applications import get_catalogue

MESSAGE_EVENTS_SYSTEM: Final = "https://fhir.nhs.uk/CodeSystem/message-events-bars"
MESSAGE_REASON_SYSTEM: Final = "https://fhir.nhs.uk/CodeSystem/message-reason-bars"
SERVICE_REQUEST_CATEGORY_SYSTEM: Final = "https://fhir.nhs.uk/CodeSystem/message-category-servicerequest"
USE_CASES_SYSTEM: Final = "https://fhir.nhs.uk/CodeSystem/usecases-categories-bars"
NHS_NUMBER_SYSTEM: Final = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM: Final = "https://fhir.nhs.uk/Id/ods-organization-code"
DOS_SYSTEM: Final = "https://fhir.nhs.uk/Id/dos-service-id"
SDS_ROLE_PROFILE_SYSTEM: Final = "https://fhir.nhs.uk/Id/sds-role-profile-id"
# The proxy's internal test targets use this system (BARS-API.md §11).
TEST_TARGET_SYSTEM: Final = "tests"

BUNDLE_PROFILE: Final = "https://fhir.nhs.uk/StructureDefinition/BARSBundleMessage"
MESSAGE_DEFINITION_BASE: Final = "https://fhir.nhs.uk/MessageDefinition/"
MESSAGE_HEADER_PROFILE_BASE: Final = "https://fhir.nhs.uk/StructureDefinition/BARSMessageHeader-"

EVENTS: Final = frozenset({"servicerequest-request", "servicerequest-response", "booking-request", "booking-response"})
REASONS: Final = frozenset({"new", "update", "delete"})
SERVICE_REQUEST_CATEGORIES: Final = frozenset({"referral", "validation"})
# The usecases-categories-bars codes live in one place: tkw/applications/applications.yaml.
USE_CASES: Final = frozenset(get_catalogue().use_cases)
# The API versions an Accept header may ask for (1.0.0 is production; the others are in development).
API_VERSIONS: Final = ("1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0")
# Bundle.meta.versionId is the payload version; every published BaRS payload is major version 1.
SUPPORTED_PAYLOAD_MAJOR: Final = 1

# The resource type a message's focus must be, per event (BARS-API.md §6.1; responses to a
# validation focus on the receiver's Encounter, §12.16).
FOCUS_TYPES: Final = MappingProxyType(
    {
        "booking-request": frozenset({"Appointment"}),
        "servicerequest-request": frozenset({"ServiceRequest"}),
        "servicerequest-response": frozenset({"ServiceRequest", "Encounter"}),
    }
)


@dataclass(frozen=True, slots=True)
class Cardinality:
    min: int
    max: int | None  # None: unbounded ("*")

    def allows(self, count: int) -> bool:
        return count >= self.min and (self.max is None or count <= self.max)

    def __str__(self) -> str:
        return f"{self.min}..{'*' if self.max is None else self.max}"


@dataclass(frozen=True, slots=True)
class MessageDefinitionRule:
    name: str  # e.g. "bars-message-booking-request"
    event: str
    focus: MappingProxyType[str, Cardinality]  # resource type -> allowed count in the Bundle

    @property
    def url(self) -> str:
        return MESSAGE_DEFINITION_BASE + self.name


def _cardinality(low: int, high: str) -> Cardinality:
    return Cardinality(low, None if high == "*" else int(high))


def _widest(a: Cardinality, b: Cardinality) -> Cardinality:
    high = None if a.max is None or b.max is None else max(a.max, b.max)
    return Cardinality(min(a.min, b.min), high)


def _load_definitions() -> dict[str, MessageDefinitionRule]:
    """The IG's MessageDefinitions as shipped (``tkw.scenarios`` resources), the one copy of them."""
    found: dict[str, MessageDefinitionRule] = {}
    folder = resources.files("tkw.scenarios").joinpath("resources", "message-definitions")
    for item in sorted(folder.iterdir(), key=lambda i: i.name):
        if not item.name.endswith(".json"):
            continue
        data = json.loads(item.read_text(encoding="utf-8"))
        name = str(data["url"]).rsplit("/", 1)[-1]
        if item.name != name.removeprefix("bars-message-") + ".json":
            # An Application's variant (app5-…) or a TKW error sentinel's deliberately broken copy
            # (invalid-…) of the same canonical URL: the IG's own definition is the file named after it.
            continue
        focus: dict[str, Cardinality] = {}
        for entry in data["focus"]:
            if entry["code"] in _ENVELOPE:
                continue
            allowed = _cardinality(int(entry.get("min", 0)), str(entry.get("max", "*")))
            known = focus.get(entry["code"])
            focus[entry["code"]] = allowed if known is None else _widest(known, allowed)
        rule = MessageDefinitionRule(name, str(data["eventCoding"]["code"]), MappingProxyType(focus))
        found[rule.url] = rule
    return found


# The Bundle and its MessageHeader are the envelope, checked by their own rules.
_ENVELOPE = frozenset({"Bundle", "MessageHeader"})
MESSAGE_DEFINITIONS: Final = MappingProxyType(_load_definitions())


@dataclass(frozen=True, slots=True)
class WorkflowStatuses:
    """Focus statuses that make sense for an event and reason (BARS-API.md §6.2's decision table)."""

    expected: frozenset[str]  # fine
    tolerated: frozenset[str] = frozenset()  # accepted with a warning
    note: str = ""  # why a tolerated status is flagged


WORKFLOW: Final = MappingProxyType(
    {
        ("booking-request", "new"): WorkflowStatuses(
            frozenset({"booked"}),
            frozenset({"cancelled", "entered-in-error"}),
            "the IG's cancellation example uses reason 'new', but its decision table expects 'update' for a "
            "cancelled booking",
        ),
        ("booking-request", "update"): WorkflowStatuses(frozenset({"booked", "cancelled", "entered-in-error"})),
        ("booking-request", "delete"): WorkflowStatuses(frozenset({"cancelled", "entered-in-error"})),
        ("servicerequest-request", "new"): WorkflowStatuses(frozenset({"active"})),
        ("servicerequest-request", "update"): WorkflowStatuses(
            frozenset({"revoked", "entered-in-error", "active", "on-hold"})
        ),
        ("servicerequest-request", "delete"): WorkflowStatuses(frozenset({"entered-in-error"})),
    }
)
