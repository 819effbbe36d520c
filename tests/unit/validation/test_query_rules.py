"""Search and read parameters of /Slot, /MessageDefinition, /Appointment and /ServiceRequest."""

from __future__ import annotations

import pytest
from validation_support import errors, failures, good_headers, only, run, warnings

from tkw.routes import Operation

SLOT = Operation.SLOT_SEARCH
GOOD_SLOT: dict[str, str | list[str]] = {
    "status": "free",
    "start": ["ge2022-03-01T12:00:00+00:00", "le2022-03-01T13:30:00+00:00"],
    "Schedule.actor:HealthcareService": "2000011147",
    "_include": ["Slot:schedule", "Schedule:actor:HealthcareService"],
}


def slot(**changes: str | list[str] | None) -> list:  # type: ignore[type-arg]
    query = dict(GOOD_SLOT)
    for name, value in changes.items():
        name = {"healthcare_service": "Schedule.actor:HealthcareService", "include": "_include"}.get(name, name)
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return run(SLOT, good_headers(), query)


def test_spec_slot_search_passes() -> None:
    findings = slot()
    assert failures(findings, "query") == []
    assert {"query.slot.status", "query.slot.start", "query.slot.include", "query.slot.healthcare-service"} <= {
        f.id for f in findings if f.passed
    }


@pytest.mark.parametrize("name", ["status", "start", "Schedule.actor:HealthcareService", "_include"])
def test_required_slot_parameters(name: str) -> None:
    query = {k: v for k, v in GOOD_SLOT.items() if k != name}
    finding = only(errors(run(SLOT, good_headers(), query), "query.parameters"))
    assert (finding.issue_code, finding.location) == ("required", f"query.{name}")


def test_status_values_are_free_or_busy() -> None:
    assert failures(slot(status="free,busy"), "query.slot.status") == []
    assert "'open'" in only(errors(slot(status="free,open"), "query.slot.status")).message


def test_repeated_status_is_an_error() -> None:
    finding = only(errors(slot(status=["free", "busy"]), "query.parameters"))
    assert "comma-separated" in finding.message


@pytest.mark.parametrize(
    ("start", "fragment"),
    [
        ("2022-03-01T12:00:00+00:00", "prefix"),  # the sandbox's single unprefixed start
        (["ge2022-03-01T12:00:00", "le2022-03-01T13:00:00"], "UTC offset"),
        (["ge2022-03-01T12:00:00+01:00", "le2022-03-01T13:00:00+01:00"], "not in UTC"),
        (["ge2022-03-01", "le2022-03-02"], "no time"),
        (["geyesterday", "letoday"], "not a FHIR dateTime"),
        (["ge2022-03-01T14:00:00+00:00", "le2022-03-01T13:00:00+00:00"], "window is empty"),
        (["ge2022-03-01T12:00:00+00:00"], "no le bound"),
    ],
)
def test_start_must_be_a_utc_window(start: str | list[str], fragment: str) -> None:
    found = errors(slot(start=start), "query.slot.start")
    assert found and fragment in found[0].message, [f.message for f in found]


def test_unencoded_plus_in_start_is_a_warning_and_still_read() -> None:
    findings = slot(start=["ge2022-03-01T12:00:00 00:00", "le2022-03-01T13:30:00 00:00"])
    assert errors(findings, "query.slot.start") == []
    assert {f.id for f in warnings(findings, "query.slot.start")} == {"query.slot.start.encoding"}


def test_healthcare_service_other_than_the_target_is_a_warning() -> None:
    finding = only(warnings(slot(healthcare_service="2000099999"), "query.slot.healthcare-service"))
    assert "2000011147" in finding.message


def test_include_minimum() -> None:
    finding = only(errors(slot(include=["Slot:schedule"]), "query.slot.include"))
    assert "Schedule:actor:HealthcareService" in finding.message
    assert failures(slot(include=["Slot:*"]), "query.slot.include") == []


def test_include_spellings_and_unknown_values_are_warnings() -> None:
    findings = slot(
        include=["Slot:schedule", "Schedule:actor:HealthcareService", "HealthcareService.providedBy", "Patient:x"]
    )
    assert errors(findings, "query.slot.include") == []
    assert {f.id for f in warnings(findings, "query.slot.include")} == {
        "query.slot.include.spelling",
        "query.slot.include.unknown",
    }


def test_comma_separated_include_is_a_warning() -> None:
    findings = slot(include="Slot:schedule,Schedule:actor:HealthcareService")
    assert errors(findings, "query") == []
    assert only(warnings(findings, "query.slot.include")).id == "query.slot.include.repeat"


def test_unknown_parameter_is_a_warning() -> None:
    findings = run(SLOT, good_headers(), dict(GOOD_SLOT) | {"end": "2022-03-01"})
    finding = only(warnings(findings, "query.parameters"))
    assert finding.location == "query.end"


# -- /MessageDefinition -------------------------------------------------------------------------

MD = Operation.MESSAGE_DEFINITION_SEARCH


@pytest.mark.parametrize(
    "context",
    [
        "https://fhir.nhs.uk/Id/dos-service-id|2000011147",
        [
            "https://fhir.nhs.uk/Id/dos-service-id|2000011147",
            "https://fhir.nhs.uk/CodeSystem/usecases-categories-bars|a1t1",
        ],
    ],
)
def test_context_naming_the_target_passes(context: str | list[str]) -> None:
    assert failures(run(MD, good_headers(), {"context": context}), "query") == []


def test_bare_context_is_accepted_with_a_note() -> None:
    finding = only(failures(run(MD, good_headers(), {"context": "2000011147"}), "query"))
    assert finding.severity == "info"


def test_context_for_another_service_is_a_warning() -> None:
    finding = only(
        warnings(run(MD, good_headers(), {"context": "https://fhir.nhs.uk/Id/dos-service-id|2000099999"}), "query")
    )
    assert "2000011147" in finding.message


def test_context_without_value_is_an_error() -> None:
    assert only(errors(run(MD, good_headers(), {"context": "https://fhir.nhs.uk/Id/dos-service-id|"}), "query"))


def test_context_with_only_a_use_case_names_no_service() -> None:
    query = {"context": "https://fhir.nhs.uk/CodeSystem/usecases-categories-bars|a1t1"}
    assert only(errors(run(MD, good_headers(), query), "query")).issue_code == "required"


def test_context_is_required() -> None:
    assert only(errors(run(MD, good_headers(), {}), "query")).location == "query.context"


# -- /Appointment, /ServiceRequest --------------------------------------------------------------

NHS = "https://fhir.nhs.uk/Id/nhs-number"


@pytest.mark.parametrize("operation", [Operation.APPOINTMENT_SEARCH, Operation.SERVICE_REQUEST_SEARCH])
def test_patient_identifier_token_with_valid_nhs_number_passes(operation: Operation) -> None:
    assert failures(run(operation, good_headers(), {"patient:identifier": f"{NHS}|9476719931"}), "query") == []


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("9476719931", "bare value"),
        ("https://fhir.nhs.uk/Id/nhs-numbers|9476719931", "not https://fhir.nhs.uk/Id/nhs-number"),
        (f"{NHS}|947671993", "ten digits"),
    ],
)
def test_patient_identifier_errors(value: str, fragment: str) -> None:
    finding = only(errors(run(Operation.APPOINTMENT_SEARCH, good_headers(), {"patient:identifier": value}), "query"))
    assert fragment in finding.message
    assert "9476719931" not in finding.message and "947671993" not in finding.message


def test_patient_identifier_failing_modulus_11_is_a_warning() -> None:
    # 4857773456 is the spec's own example, and fails the check digit.
    findings = run(Operation.APPOINTMENT_SEARCH, good_headers(), {"patient:identifier": f"{NHS}|4857773456"})
    assert errors(findings, "query") == []
    assert only(warnings(findings, "query")).id == "query.patient-identifier.check-digit"


def test_later_version_search_parameter_is_a_note() -> None:
    query = {"patient:identifier": f"{NHS}|9476719931", "patient:birthdate": "2000-01-01"}
    assert only(failures(run(Operation.APPOINTMENT_SEARCH, good_headers(), query), "query")).severity == "info"


def test_service_request_identifier_bare_is_a_note() -> None:
    query = {"patient:identifier": f"{NHS}|9476719931", "ServiceRequest.identifier": "10000000000"}
    assert only(failures(run(Operation.SERVICE_REQUEST_SEARCH, good_headers(), query), "query")).severity == "info"


@pytest.mark.parametrize("operation", [Operation.APPOINTMENT_READ, Operation.SERVICE_REQUEST_READ])
def test_read_id_must_be_a_uuid(operation: Operation) -> None:
    assert failures(run(operation, good_headers()), "path") == []
    resource = "Appointment" if operation is Operation.APPOINTMENT_READ else "ServiceRequest"
    finding = only(errors(run(operation, good_headers(), path=f"/{resource}/12345"), "path.id"))
    assert "'12345'" in finding.message


def test_reads_take_no_query_parameters() -> None:
    assert only(warnings(run(Operation.APPOINTMENT_READ, good_headers(), {"_format": "json"}), "query"))
