"""BaRS terminology and MessageDefinition cardinalities the rules check against, as data.

Sources: BARS-API.md §6 (code systems, identifiers) and §8.2, cross-checked with the IG's
MessageDefinitions (``ig-examples/messagedefinitions``). Where a definition lists a type twice with
different profiles (Flag, Location in the referral), the widest range is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def _c(spec: str) -> Cardinality:
    low, _, high = spec.partition("..")
    return Cardinality(int(low), None if (high or low) == "*" else int(high or low))


def _definition(name: str, event: str, focus: dict[str, str]) -> MessageDefinitionRule:
    return MessageDefinitionRule(name, event, MappingProxyType({k: _c(v) for k, v in focus.items()}))


_CLINICAL_EXTRAS = {"Observation": "0..*", "Flag": "0..*", "MedicationStatement": "0..*", "AllergyIntolerance": "0..*"}

MESSAGE_DEFINITIONS: Final = MappingProxyType(
    {
        d.url: d
        for d in (
            _definition(
                "bars-message-booking-request",
                "booking-request",
                {
                    "ServiceRequest": "0..1",
                    "Patient": "1..1",
                    "Location": "0..1",
                    "Organization": "2..*",
                    "Practitioner": "0..*",
                    "PractitionerRole": "0..*",
                    "Consent": "0..*",
                    "HealthcareService": "1..1",
                    "Appointment": "1..1",
                    "Slot": "1..1",
                    "Schedule": "1..1",
                },
            ),
            _definition(
                "bars-message-booking-request-cancelled",
                "booking-request",
                {"Patient": "1..1", "Organization": "2..*", "Appointment": "1..1"},
            ),
            _definition(
                "bars-message-servicerequest-request-referral",
                "servicerequest-request",
                {
                    "ServiceRequest": "1..1",
                    "Patient": "1..1",
                    "Encounter": "1..1",
                    "CarePlan": "1..1",
                    "Location": "0..*",
                    "Organization": "2..*",
                    "Practitioner": "1..*",
                    "PractitionerRole": "1..*",
                    **_CLINICAL_EXTRAS,
                    "Questionnaire": "0..*",
                    "QuestionnaireResponse": "0..*",
                    "Consent": "1..*",
                    "HealthcareService": "1..1",
                    "Condition": "0..*",
                    "Task": "0..*",
                    "Communication": "0..*",
                    "Procedure": "0..*",
                },
            ),
            _definition(
                "bars-message-servicerequest-request-validation",
                "servicerequest-request",
                {
                    "ServiceRequest": "1..1",
                    "Patient": "1..1",
                    "Encounter": "1..1",
                    "CarePlan": "1..1",
                    "Location": "1..1",
                    "Organization": "2..*",
                    "Practitioner": "1..*",
                    "PractitionerRole": "1..*",
                    **_CLINICAL_EXTRAS,
                    "Consent": "1..*",
                    "HealthcareService": "1..1",
                },
            ),
            _definition(
                "bars-message-servicerequest-request-cancelled",
                "servicerequest-request",
                {"ServiceRequest": "1..1", "Patient": "1..1", "Organization": "2..*"},
            ),
            _definition(
                "bars-message-servicerequest-response-referral",
                "servicerequest-response",
                {
                    "ServiceRequest": "1..1",
                    "Patient": "1..1",
                    "Encounter": "0..1",
                    "CarePlan": "0..1",
                    "Location": "0..1",
                    "Organization": "2..*",
                    "Practitioner": "1..*",
                    "PractitionerRole": "1..*",
                    **_CLINICAL_EXTRAS,
                    "QuestionnaireResponse": "0..*",
                    "Consent": "1..*",
                    "HealthcareService": "1..1",
                    "Appointment": "0..1",
                    "Condition": "0..*",
                    "Task": "0..*",
                },
            ),
            _definition(
                "bars-message-servicerequest-response-referral-short",
                "servicerequest-response",
                {
                    "ServiceRequest": "1..1",
                    "Patient": "1..1",
                    "Encounter": "2..2",
                    "Organization": "1..*",
                    "Practitioner": "1..*",
                    "PractitionerRole": "1..*",
                    "HealthcareService": "0..*",
                },
            ),
            _definition(
                "bars-message-servicerequest-response-validation-interim",
                "servicerequest-response",
                {
                    "ServiceRequest": "1..1",
                    "Patient": "1..1",
                    "Encounter": "2..2",
                    "Organization": "1..*",
                    "Practitioner": "1..*",
                    "PractitionerRole": "1..*",
                    "HealthcareService": "0..*",
                },
            ),
            _definition(
                "bars-message-servicerequest-response-validation-full",
                "servicerequest-response",
                {
                    "ServiceRequest": "1..1",
                    "Patient": "1..1",
                    "Encounter": "2..3",
                    "CarePlan": "1..1",
                    "Location": "1..1",
                    "Organization": "2..*",
                    "Practitioner": "1..*",
                    "PractitionerRole": "1..*",
                    **_CLINICAL_EXTRAS,
                    "Consent": "1..*",
                    "HealthcareService": "1..1",
                },
            ),
        )
    }
)


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
