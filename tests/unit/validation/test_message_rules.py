"""BaRS message rules on $process-message Bundles: official and IG examples pass, broken copies fail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from bars_support import example, ig_example
from validation_support import errors, failures, only, run_message, warnings

from tkw.validation import verdict_of

REQUESTS: list[Any] = [
    pytest.param(lambda: example("process_message/POST-body.json"), id="POST-body"),
    pytest.param(lambda: example("process_message/request/Booking_(POST).json"), id="Booking"),
    pytest.param(lambda: example("process_message/request/ValidationRequest_(POST).json"), id="ValidationRequest"),
    pytest.param(lambda: example("process_message/request/ValidationResponse_(POST).json"), id="ValidationResponse"),
    *[
        pytest.param(lambda n=n: ig_example(n), id=n)
        for n in (
            "BOOKREQ01",
            "BOOKREQ02",
            "REFREQ01",
            "REFREQ02",
            "REFRESP01",
            "SERVREQ01",
            "VALREQ01",
            "VALRESP01A",
            "VALRESP02",
        )
    ],
]


def booking() -> dict[str, Any]:
    return ig_example("BOOKREQ01")


def header(bundle: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = bundle["entry"][0]["resource"]
    return resource


def entry_of(bundle: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return next(e for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type)


# The API's 1.0.0 examples predate use-case categories: TKW (1.0.19+) reports their missing UCC.
PREDATE_UCC = {"POST-body", "Booking", "ValidationRequest", "ValidationResponse"}


@pytest.mark.parametrize("load", REQUESTS)
def test_official_and_ig_requests_have_no_errors(load: Callable[[], dict[str, Any]], request: Any) -> None:
    findings = run_message(load())
    if request.node.callspec.id in PREDATE_UCC:
        missing = only(errors(findings, "ucc.payload"))
        assert "has no use-case category" in missing.message
        findings = [f for f in findings if f is not missing]
    assert errors(findings) == [], [f.message for f in errors(findings)]
    assert verdict_of(findings) in ("pass", "warnings")
    checked = {f.id for f in findings if f.passed}
    assert {
        "message.bundle.type",
        "message.header.first",
        "message.header.event",
        "message.header.definition",
    } <= checked


def test_a_clean_ig_booking_passes_outright() -> None:
    findings = run_message(booking())
    assert verdict_of(findings) == "pass", [f.message for f in failures(findings) if f.severity != "info"]


# -- the Bundle ---------------------------------------------------------------------------------


def test_bundle_type_must_be_message() -> None:
    bundle = booking()
    bundle["type"] = "collection"
    finding = only(errors(run_message(bundle), "message.bundle.type"))
    assert finding.location == "Bundle.type"
    assert "'collection'" in finding.message


def test_missing_version_id_is_invariant() -> None:
    bundle = booking()
    del bundle["meta"]["versionId"]
    finding = only(errors(run_message(bundle), "message.bundle.version"))
    assert (finding.issue_code, finding.location) == ("invariant", "Bundle.meta.versionId")


def test_unsupported_version_is_rec_unprocessable_entity() -> None:
    bundle = booking()
    bundle["meta"]["versionId"] = "2.0.0"
    finding = only(errors(run_message(bundle), "message.bundle.version"))
    assert (finding.bars_code, finding.issue_code) == ("REC_UNPROCESSABLE_ENTITY", "not-supported")


def test_missing_bundle_profile_and_id_are_warnings() -> None:
    bundle = booking()
    bundle["meta"]["profile"] = []
    del bundle["id"]
    findings = run_message(bundle)
    assert {f.id for f in warnings(findings, "message.bundle")} == {"message.bundle.profile", "message.bundle.id"}


@pytest.mark.parametrize(
    ("full_url", "fragment"), [(None, "is missing"), ("Patient/1", "urn:uuid"), ("urn:uuid:not-a-uuid", "urn:uuid")]
)
def test_full_url_must_be_urn_uuid(full_url: str | None, fragment: str) -> None:
    bundle = booking()
    if full_url is None:
        del bundle["entry"][3]["fullUrl"]
    else:
        bundle["entry"][3]["fullUrl"] = full_url
    finding = next(f for f in errors(run_message(bundle), "message.entry.full-url"))
    assert finding.location == "Bundle.entry[3].fullUrl"
    assert fragment in finding.message


def test_duplicate_full_url_is_an_error() -> None:
    bundle = booking()
    bundle["entry"][4]["fullUrl"] = bundle["entry"][3]["fullUrl"]
    finding = only(errors(run_message(bundle), "message.entry.full-url"))
    assert "Bundle.entry[3]" in finding.message


# -- the MessageHeader --------------------------------------------------------------------------


def test_message_header_must_come_first() -> None:
    bundle = booking()
    bundle["entry"].append(bundle["entry"].pop(0))
    finding = only(errors(run_message(bundle), "message.header.first"))
    assert finding.location == "Bundle.entry[0]"
    assert f"Bundle.entry[{len(bundle['entry']) - 1}]" in finding.message


def test_event_from_the_response_examples_system_is_an_error() -> None:
    bundle = booking()
    header(bundle)["eventCoding"]["system"] = "https://fhir.nhs.uk/CodeSystem/message-event-servicerequest"
    finding = only(errors(run_message(bundle), "message.header.event"))
    assert finding.location.endswith("eventCoding.system")
    assert "message-events-bars" in finding.message


def test_unknown_event_code_is_an_error() -> None:
    bundle = booking()
    header(bundle)["eventCoding"]["code"] = "booking-made"
    assert only(errors(run_message(bundle, **{"use-context": "a1t1|booking|booking-made|new"}), "message.header.event"))


def test_message_header_profile_for_another_event_is_a_warning() -> None:
    bundle = booking()
    header(bundle)["meta"]["profile"] = [
        "https://fhir.nhs.uk/StructureDefinition/BARSMessageHeader-servicerequest-request"
    ]
    assert only(warnings(run_message(bundle), "message.header.profile"))


@pytest.mark.parametrize(
    "reason", [None, {"coding": [{"system": "https://fhir.nhs.uk/CodeSystem/message-reason-bars", "code": "cancel"}]}]
)
def test_reason_must_be_a_bars_reason(reason: dict[str, Any] | None) -> None:
    bundle = booking()
    if reason is None:
        del header(bundle)["reason"]
    else:
        header(bundle)["reason"] = reason
    findings = run_message(bundle, **{"use-context": "a1t1|booking|booking-request|new"})
    assert only(errors(findings, "message.header.reason"))


def test_definition_is_required_except_for_a_delete() -> None:
    bundle = booking()
    del header(bundle)["definition"]
    assert only(errors(run_message(bundle), "message.header.definition")).issue_code == "required"
    bundle = ig_example("SERVREQ01")
    del header(bundle)["definition"]
    header(bundle)["reason"]["coding"][0]["code"] = "delete"
    entry_of(bundle, "ServiceRequest")["resource"]["status"] = "entered-in-error"
    findings = run_message(bundle)
    assert errors(findings, "message.header.definition") == []
    assert only(warnings(findings, "message.header.definition"))


def test_unknown_definition_is_an_error() -> None:
    bundle = booking()
    header(bundle)["definition"] = "https://fhir.nhs.uk/MessageDefinition/bars-message-booking-request-new"
    assert only(errors(run_message(bundle), "message.header.definition")).issue_code == "not-supported"


def test_definition_must_match_the_event() -> None:
    bundle = booking()
    header(bundle)["definition"] = "https://fhir.nhs.uk/MessageDefinition/bars-message-servicerequest-request-referral"
    finding = only(errors(run_message(bundle), "message.header.definition"))
    assert "servicerequest-request definition" in finding.message and "booking-request" in finding.message


def test_versioned_definition_canonical_is_accepted() -> None:
    bundle = booking()
    header(bundle)["definition"] += "|1.0.0"
    assert failures(run_message(bundle), "message.header.definition") == []


def test_focus_must_resolve_inside_the_bundle() -> None:
    bundle = booking()
    header(bundle)["focus"] = [{"reference": "urn:uuid:00000000-0000-4000-8000-000000000000"}]
    finding = only(errors(run_message(bundle), "message.header.focus"))
    assert (finding.issue_code, finding.location) == (
        "not-found",
        "Bundle.entry[0].resource(MessageHeader).focus[0].reference",
    )


def test_focus_must_be_the_root_resource_of_the_event() -> None:
    bundle = booking()
    header(bundle)["focus"] = [{"reference": entry_of(bundle, "Patient")["fullUrl"]}]
    finding = only(errors(run_message(bundle), "message.header.focus"))
    assert "Patient" in finding.message and "Appointment" in finding.message


def test_destination_must_be_the_target_service() -> None:
    bundle = booking()
    findings = run_message(bundle, **{"NHSD-Target-Identifier": __import__("bars_support").target("2000011147")})
    finding = only(errors(findings, "message.header.destination"))
    assert "2000011147" in finding.message and "111111111" in finding.message
    assert finding.location.endswith("destination[0].endpoint")


def test_destination_with_the_http_dos_system_is_a_warning() -> None:
    findings = run_message(example("process_message/POST-body.json"))
    assert errors(findings, "message.header.destination") == []
    assert only(warnings(findings, "message.header.destination"))


def test_sender_must_be_an_organization() -> None:
    bundle = booking()
    header(bundle)["sender"] = {"reference": entry_of(bundle, "Patient")["fullUrl"]}
    finding = only(errors(run_message(bundle), "message.header.parties"))
    assert finding.location.endswith("sender.reference")


def test_a_response_needs_message_header_response() -> None:
    bundle = ig_example("VALRESP02")
    del header(bundle)["response"]
    assert only(errors(run_message(bundle), "message.header.response")).issue_code == "invariant"


def test_a_request_with_message_header_response_is_a_warning() -> None:
    bundle = booking()
    header(bundle)["response"] = {"identifier": "x", "code": "ok"}
    assert only(warnings(run_message(bundle), "message.header.response"))


# -- the payload --------------------------------------------------------------------------------


def test_unresolvable_urn_reference_is_an_error_with_its_path() -> None:
    bundle = booking()
    appointment = entry_of(bundle, "Appointment")
    appointment["resource"]["slot"] = [{"reference": "urn:uuid:00000000-0000-4000-8000-000000000001"}]
    index = bundle["entry"].index(appointment)
    finding = only(errors(run_message(bundle), "message.references"))
    assert finding.location == f"Bundle.entry[{index}].resource(Appointment).slot[0].reference"


def test_reference_outside_the_bundle_is_a_warning() -> None:
    findings = run_message(ig_example("REFREQ01"))
    found = warnings(findings, "message.references")
    assert {f.location.rsplit(".", 2)[-2] for f in found} == {"episodeOfCare[0]", "supportingInfo[2]"}


def test_garbage_reference_is_an_error() -> None:
    bundle = booking()
    entry_of(bundle, "Appointment")["resource"]["slot"] = [{"reference": "d5ffd0cd-ec7e-48a1-84f1-91f4c0eb8fc5"}]
    assert only(errors(run_message(bundle), "message.references")).issue_code == "value"


def test_missing_required_resource_breaks_the_message_definition() -> None:
    bundle = booking()
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Slot"]
    entry_of(bundle, "Appointment")["resource"].pop("slot", None)
    finding = only(errors(run_message(bundle), "message.cardinality"))
    assert finding.message == "bars-message-booking-request requires Slot 1..1; the Bundle has 0."
    assert finding.issue_code == "required"


def test_too_many_of_a_resource_breaks_the_message_definition() -> None:
    bundle = ig_example("VALRESP01A")
    encounter = entry_of(bundle, "Encounter")
    bundle["entry"].append({**encounter, "fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000002"})
    finding = only(errors(run_message(bundle), "message.cardinality"))
    assert "Encounter 2..2" in finding.message and "has 3" in finding.message


def test_resource_the_definition_does_not_list_is_a_warning() -> None:
    bundle = ig_example("BOOKREQ02")
    bundle["entry"].append(
        {
            "fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000003",
            "resource": {"resourceType": "Flag", "status": "active"},
        }
    )
    finding = only(warnings(run_message(bundle), "message.cardinality"))
    assert "does not list Flag" in finding.message


def test_cancelled_booking_with_reason_new_is_flagged() -> None:
    finding = only(warnings(run_message(ig_example("BOOKREQ02")), "message.workflow"))
    assert "update" in finding.message


def test_new_booking_that_is_not_booked_is_an_error() -> None:
    bundle = booking()
    entry_of(bundle, "Appointment")["resource"]["status"] = "proposed"
    finding = only(errors(run_message(bundle), "message.workflow"))
    assert finding.location.endswith("resource(Appointment).status")


def test_booking_response_is_not_accepted() -> None:
    bundle = booking()
    header(bundle)["eventCoding"]["code"] = "booking-response"
    header(bundle)["definition"] = None
    del header(bundle)["definition"]
    findings = run_message(bundle)
    assert only(errors(findings, "message.workflow")).issue_code == "invariant"


def test_nhs_number_with_a_valid_check_digit_passes() -> None:
    findings = run_message(booking())
    assert any(f.id == "message.patient.nhs-number" and f.passed for f in findings)


def test_nhs_number_failing_modulus_11_is_only_a_warning() -> None:
    findings = run_message(ig_example("REFREQ01"))
    finding = only(warnings(findings, "message.patient.nhs-number"))
    assert finding.id == "message.patient.nhs-number.check-digit"
    assert "3478526985" not in finding.message, "no patient data in messages"


def test_nhs_number_that_is_not_ten_digits_is_an_error() -> None:
    bundle = booking()
    entry_of(bundle, "Patient")["resource"]["identifier"][0]["value"] = "947 671 9931"
    finding = only(errors(run_message(bundle), "message.patient.nhs-number"))
    assert finding.location.endswith("resource(Patient).identifier[0].value")
    assert "947" not in finding.message


def test_patient_references_are_not_quoted_in_messages() -> None:
    bundle = booking()
    entry_of(bundle, "Appointment")["resource"]["participant"][0]["actor"] = {"reference": "Patient/9476719931"}
    findings = run_message(bundle)
    finding = only([f for f in warnings(findings, "message.references") if "participant" in f.location])
    assert "9476719931" not in finding.message and "a Patient reference" in finding.message
