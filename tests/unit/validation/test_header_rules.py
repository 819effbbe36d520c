"""Header rules: transaction ids, the NHSD headers, Accept, Content-Type and use-context."""

from __future__ import annotations

import base64

import pytest
from bars_support import b64json, example, organisation, target
from validation_support import (
    PRACTITIONER,
    SOFTWARE,
    errors,
    failures,
    good_headers,
    only,
    run,
    run_message,
    warnings,
)

from tkw.routes import Operation

SLOT = Operation.SLOT_SEARCH


def test_conforming_headers_raise_nothing() -> None:
    findings = run(Operation.METADATA, good_headers())
    assert failures(findings, "header") == []
    passed = {f.id for f in findings if f.passed}
    assert {
        "header.x-request-id",
        "header.x-correlation-id",
        "header.x-request-id.duplicate",
        "header.end-user-organisation",
        "header.requesting-software",
        "header.requesting-practitioner",
        "header.target-identifier",
        "header.accept",
    } <= passed


# -- transaction headers ------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["X-Request-Id", "X-Correlation-Id"])
def test_missing_transaction_header_is_a_required_error(header: str) -> None:
    finding = only(errors(run(SLOT, good_headers(**{header: None})), f"header.{header.lower()}"))
    assert finding.issue_code == "required"
    assert finding.location == f"http.{header}"
    assert header in finding.message


@pytest.mark.parametrize("value", ["12345", "not-a-uuid", "{5d9a3c3e-4a59-4b8e-9a8e-0c6a0f8f1b2c}"])
def test_transaction_header_that_is_not_a_uuid_is_a_value_error(value: str) -> None:
    finding = only(errors(run(SLOT, good_headers(**{"X-Correlation-Id": value})), "header.x-correlation-id"))
    assert finding.issue_code == "value"
    assert repr(value) in finding.message


def test_repeated_x_request_id_is_rec_conflict_duplicate() -> None:
    finding = only(errors(run(SLOT, good_headers(), seen_before=True), "header.x-request-id.duplicate"))
    assert (finding.bars_code, finding.issue_code) == ("REC_CONFLICT", "duplicate")
    assert finding.location == "http.X-Request-Id"
    assert "409" in finding.message


def test_fresh_x_request_id_passes_the_duplicate_check() -> None:
    findings = run(SLOT, good_headers(), seen_before=False)
    assert any(f.id == "header.x-request-id.duplicate" and f.passed for f in findings)


# -- NHSD-End-User-Organisation -----------------------------------------------------------------


def test_missing_organisation_is_an_error() -> None:
    finding = only(errors(run(SLOT, good_headers(**{"NHSD-End-User-Organisation": None})), "header.end-user"))
    assert finding.issue_code == "required"
    assert finding.location == "http.NHSD-End-User-Organisation"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("%%%", "not valid base64"),
        (base64.b64encode(b"plain").decode(), "does not decode to JSON"),
        (b64json(["A1001"]), "JSON object"),
        (b64json({"resourceType": "Patient", "identifier": []}), "resourceType 'Organization'"),
        (b64json({"resourceType": "Organization", "identifier": [{"system": "x", "value": "A1"}]}), "no identifier"),
    ],
)
def test_broken_organisation_header_says_why(raw: str, expected: str) -> None:
    finding = only(errors(run(SLOT, good_headers(**{"NHSD-End-User-Organisation": raw})), "header.end-user"))
    assert expected in finding.message


def test_organisation_identifier_as_object_and_lower_case_system_are_warnings() -> None:
    raw = b64json(
        {
            "resourceType": "Organization",
            "identifier": {"system": "https://fhir.nhs.uk/id/ods-organization-code", "value": "A1001"},
        }
    )
    findings = run(SLOT, good_headers(**{"NHSD-End-User-Organisation": raw}))
    assert errors(findings, "header.end-user") == []
    assert {f.id for f in warnings(findings, "header.end-user")} == {
        "header.end-user-organisation.identifier-array",
        "header.end-user-organisation.system",
    }


def test_organisation_passes_with_the_spec_example() -> None:
    findings = run(SLOT, good_headers(**{"NHSD-End-User-Organisation": organisation("RYE")}))
    assert any(f.id == "header.end-user-organisation" and f.passed and "RYE" in f.message for f in findings)


# -- NHSD-Requesting-Software / Practitioner ----------------------------------------------------


def test_software_header_is_required() -> None:
    finding = only(errors(run(SLOT, good_headers(**{"NHSD-Requesting-Software": None})), "header.requesting-software"))
    assert finding.issue_code == "required"


def test_software_header_must_be_a_device_with_an_identifier() -> None:
    raw = b64json({"resourceType": "Device", "deviceName": [{"name": "x", "type": "user-friendly-name"}]})
    finding = only(errors(run(SLOT, good_headers(**{"NHSD-Requesting-Software": raw})), "header.requesting-software"))
    assert "identifier" in finding.message


def test_software_header_without_name_and_version_is_only_a_note() -> None:
    raw = b64json({"resourceType": "Device", "identifier": SOFTWARE["identifier"]})
    findings = run(SLOT, good_headers(**{"NHSD-Requesting-Software": raw}))
    assert errors(findings, "header.requesting-software") == []
    assert only(failures(findings, "header.requesting-software")).severity == "info"


def test_practitioner_header_is_optional() -> None:
    findings = run(SLOT, good_headers(**{"NHSD-Requesting-Practitioner": None}))
    assert only(failures(findings, "header.requesting-practitioner")).severity == "info"


def test_practitioner_header_must_be_a_practitioner_role() -> None:
    raw = b64json({"resourceType": "Practitioner", "identifier": PRACTITIONER["identifier"]})
    finding = only(errors(run(SLOT, good_headers(**{"NHSD-Requesting-Practitioner": raw})), "header.requesting-pr"))
    assert "PractitionerRole" in finding.message


def test_practitioner_identifier_outside_sds_is_a_warning() -> None:
    raw = b64json(
        {"resourceType": "PractitionerRole", "identifier": [{"system": "https://x.example/id", "value": "1"}]}
    )
    findings = run(SLOT, good_headers(**{"NHSD-Requesting-Practitioner": raw}))
    assert errors(findings, "header.requesting-practitioner") == []
    assert only(warnings(findings, "header.requesting-practitioner")).id == "header.requesting-practitioner.system"


# -- NHSD-Target-Identifier ---------------------------------------------------------------------


def test_target_is_optional_on_metadata_only() -> None:
    assert failures(run(Operation.METADATA, good_headers(target_value=None)), "header.target") == []
    finding = only(errors(run(SLOT, good_headers(target_value=None)), "header.target-identifier"))
    assert finding.issue_code == "required"


def test_undecodable_target_is_an_error() -> None:
    finding = only(errors(run(SLOT, good_headers(**{"NHSD-Target-Identifier": b64json({"value": "1"})})), "header.t"))
    assert finding.issue_code == "structure"


def test_http_dos_system_in_target_is_a_warning() -> None:
    findings = run(
        SLOT, good_headers(**{"NHSD-Target-Identifier": target(system="http://fhir.nhs.uk/Id/dos-service-id")})
    )
    assert errors(findings, "header.target") == []
    assert "https" in only(warnings(findings, "header.target")).message


# -- Accept, Content-Type -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "accept",
    [
        "application/fhir+json; version=1.0.0",
        "application/fhir+json;version=1.1.0",
        "application/fhir+json;version='1.0.0'",
    ],
)
def test_accept_with_a_published_version_passes(accept: str) -> None:
    assert failures(run(SLOT, good_headers(Accept=accept)), "header.accept") == []


@pytest.mark.parametrize(
    ("accept", "severity", "fragment"),
    [
        (None, "error", "missing"),
        ("application/fhir+json", "warning", "no version"),
        ("application/fhir+json; version", "error", "without '='"),
        ("application/fhir+json; version=one", "error", "not a version number"),
        ("application/fhir+json; version=9.0.0", "warning", "not a published"),
        ("application/fhir+xml; version=1.0.0", "error", "does not ask for application/fhir+json"),
        ("application/json", "warning", "does not ask for application/fhir+json"),
    ],
)
def test_accept_problems(accept: str | None, severity: str, fragment: str) -> None:
    finding = only(failures(run(SLOT, good_headers(Accept=accept)), "header.accept"))
    assert finding.severity == severity
    assert fragment in finding.message
    assert finding.location == "http.Accept"


def test_accept_takes_the_highest_version_offered() -> None:
    findings = run(
        SLOT, good_headers(Accept="application/fhir+json;version=1.0.0, application/fhir+json;version=1.4.0")
    )
    assert any(f.id == "header.accept" and f.passed and "1.4.0" in f.message for f in findings)


def test_content_type_is_checked_on_process_message_only() -> None:
    bundle = example("process_message/POST-body.json")
    assert failures(run_message(bundle), "header.content-type") == []
    assert only(warnings(run_message(bundle, **{"Content-Type": "application/json"}), "header.content-type"))
    finding = only(errors(run_message(bundle, **{"Content-Type": "text/plain"}), "header.content-type"))
    assert finding.bars_code == "REC_UNSUPPORTED_MEDIA_TYPE"
    assert only(errors(run_message(bundle, **{"Content-Type": None}), "header.content-type")).issue_code == "required"
    assert not [f for f in run(SLOT, good_headers()) if f.id.startswith("header.content-type")]


# -- use-context --------------------------------------------------------------------------------


def test_use_context_matching_the_message_passes() -> None:
    findings = run_message(
        example("process_message/POST-body.json"), **{"use-context": "a1t1|booking|booking-request|new"}
    )
    assert failures(findings, "header.use-context") == []


def test_use_context_is_required_on_process_message() -> None:
    finding = only(
        errors(run_message(example("process_message/POST-body.json"), **{"use-context": None}), "header.use")
    )
    assert finding.issue_code == "required"


def test_use_context_disagreeing_with_the_message_header_is_an_error() -> None:
    findings = run_message(
        example("process_message/POST-body.json"), **{"use-context": "a1t1|booking|booking-request|update"}
    )
    finding = only(errors(findings, "header.use-context"))
    assert finding.id == "header.use-context.reason"
    assert "'update'" in finding.message and "'new'" in finding.message


def test_use_context_category_and_use_case_mismatch_are_warnings() -> None:
    bundle = example("process_message/request/ValidationRequest_(POST).json")
    findings = run_message(bundle, **{"use-context": "a9t9|referral|servicerequest-request|new"})
    assert errors(findings, "header.use-context") == []
    assert {f.id for f in warnings(findings, "header.use-context")} == {
        "header.use-context.use-case",
        "header.use-context.category",
    }


def test_use_context_not_in_four_parts_is_a_warning() -> None:
    findings = run_message(example("process_message/POST-body.json"), **{"use-context": "booking"})
    assert only(warnings(findings, "header.use-context")).id == "header.use-context.format"
