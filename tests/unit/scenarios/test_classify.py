"""Classifying $process-message Bundles from the Bundle itself (BARS-API.md §6.2)."""

from __future__ import annotations

from typing import Any

import pytest
from bars_support import example, ig_example

from tkw.fhir.outcome import BarsError
from tkw.message_kinds import NHS_NUMBER_SYSTEM, MessageKind
from tkw.scenarios.classify import classify, nhs_number_of


def resources(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def header(bundle: dict[str, Any]) -> dict[str, Any]:
    return resources(bundle, "MessageHeader")[0]


def focus(bundle: dict[str, Any]) -> dict[str, Any]:
    return classify(bundle).focus  # type: ignore[return-value]


def invariant_error(bundle: dict[str, Any]) -> str:
    with pytest.raises(BarsError) as caught:
        classify(bundle)
    err = caught.value
    assert err.status == 400
    assert (err.issues[0].bars_code, err.issues[0].code) == ("REC_BAD_REQUEST", "invariant")
    return err.issues[0].diagnostics


@pytest.mark.parametrize(
    ("payload", "kind", "nhs_number", "focus_type"),
    [
        (lambda: example("process_message/POST-body.json"), MessageKind.BOOKING_NEW, "9476719931", "Appointment"),
        (
            lambda: example("process_message/request/Booking_(POST).json"),
            MessageKind.BOOKING_NEW,
            "9476719931",
            "Appointment",
        ),
        # The 200-response example uses other event/reason systems and a broken ":uuid:" reference.
        (lambda: example("process_message/POST-success.json"), MessageKind.BOOKING_NEW, "9476719931", "Appointment"),
        (
            lambda: example("process_message/request/ValidationRequest_(POST).json"),
            MessageKind.VALIDATION_NEW,
            "3478526985",
            "ServiceRequest",
        ),
        (
            lambda: example("process_message/request/ValidationResponse_(POST).json"),
            MessageKind.VALIDATION_RESPONSE_FULL,
            "3478526985",
            "Encounter",
        ),
        (lambda: ig_example("BOOKREQ01"), MessageKind.BOOKING_NEW, "9476719931", "Appointment"),
        (lambda: ig_example("BOOKREQ02"), MessageKind.BOOKING_CANCEL, "9476719931", "Appointment"),
        (lambda: ig_example("REFREQ01"), MessageKind.REFERRAL_NEW, "3478526985", "ServiceRequest"),
        (lambda: ig_example("REFREQ02"), MessageKind.REFERRAL_NEW, "3478526985", "ServiceRequest"),
        (lambda: ig_example("SERVREQ01"), MessageKind.VALIDATION_CANCEL, "3478526985", "ServiceRequest"),
        (lambda: ig_example("VALREQ01"), MessageKind.VALIDATION_NEW, "3478526985", "ServiceRequest"),
        (lambda: ig_example("VALRESP01_"), MessageKind.VALIDATION_NEW, "3478526985", "ServiceRequest"),
        (lambda: ig_example("VALRESP01A"), MessageKind.VALIDATION_RESPONSE_INTERIM, "3478526985", "Encounter"),
        (lambda: ig_example("VALRESP02"), MessageKind.VALIDATION_RESPONSE_FULL, "3478526985", "Encounter"),
        (lambda: ig_example("REFRESP01"), MessageKind.SAFEGUARDING_DNA_RESPONSE, "3478526985", "ServiceRequest"),
    ],
    ids=[
        "POST-body",
        "Booking_(POST)",
        "POST-success",
        "ValidationRequest_(POST)",
        "ValidationResponse_(POST)",
        "BOOKREQ01",
        "BOOKREQ02",
        "REFREQ01",
        "REFREQ02",
        "SERVREQ01",
        "VALREQ01",
        "VALRESP01-ack",
        "VALRESP01A",
        "VALRESP02",
        "REFRESP01",
    ],
)
def test_every_official_and_ig_example_is_classified(
    payload: Any, kind: MessageKind, nhs_number: str, focus_type: str
) -> None:
    bundle = payload()
    found = classify(bundle)
    assert found.kind is kind
    assert found.nhs_number == nhs_number
    assert found.focus_type == focus_type
    assert bundle["entry"][found.focus_index]["resource"] is found.focus


def test_the_classification_carries_what_stateful_workflows_need() -> None:
    bundle = ig_example("REFRESP01")
    found = classify(bundle)
    assert found.event == "servicerequest-response"
    assert found.reason == "new"
    assert found.category == "referral"
    assert found.bundle_id == bundle["id"]
    assert found.response_identifier == "79120f41-a431-4f08-bcc5-1e67006fcae0"
    assert found.patient is not None and found.patient["resourceType"] == "Patient"


def test_booking_cancel_sent_with_reason_new_is_a_cancel_with_a_note() -> None:
    found = classify(ig_example("BOOKREQ02"))
    assert header(ig_example("BOOKREQ02"))["reason"]["coding"][0]["code"] == "new"
    assert found.kind is MessageKind.BOOKING_CANCEL
    assert any("reason new" in note for note in found.notes)


@pytest.mark.parametrize("reason", ["update", "delete"])
def test_booking_cancel_with_the_ig_reason_has_no_note(reason: str) -> None:
    bundle = ig_example("BOOKREQ02")
    header(bundle)["reason"]["coding"][0]["code"] = reason
    found = classify(bundle)
    assert found.kind is MessageKind.BOOKING_CANCEL
    assert found.notes == ()


def test_appointment_entered_in_error_is_a_cancel() -> None:
    bundle = ig_example("BOOKREQ02")
    resources(bundle, "Appointment")[0]["status"] = "entered-in-error"
    assert classify(bundle).kind is MessageKind.BOOKING_CANCEL


def test_booked_appointment_with_reason_update_is_a_booking_update() -> None:
    bundle = ig_example("BOOKREQ01")
    header(bundle)["reason"]["coding"][0]["code"] = "update"
    assert classify(bundle).kind is MessageKind.BOOKING_UPDATE


def test_event_and_reason_are_read_whatever_their_code_system() -> None:
    bundle = ig_example("VALREQ01")
    header(bundle)["eventCoding"]["system"] = "https://fhir.nhs.uk/CodeSystem/message-event-servicerequest"
    header(bundle)["reason"]["coding"][0]["system"] = "http://example.org/reasons"
    assert classify(bundle).kind is MessageKind.VALIDATION_NEW


def test_absent_reason_is_treated_as_new() -> None:
    bundle = ig_example("BOOKREQ01")
    del header(bundle)["reason"]
    found = classify(bundle)
    assert found.kind is MessageKind.BOOKING_NEW
    assert found.reason is None


def test_nhs_number_system_matches_with_http_and_any_case() -> None:
    bundle = ig_example("BOOKREQ01")
    ident = resources(bundle, "Patient")[0]["identifier"][0]
    ident["system"] = "HTTP://fhir.nhs.uk/Id/NHS-Number"
    ident["value"] = "905 461 3556"
    assert classify(bundle).nhs_number == "9054613556"


def test_patient_without_nhs_number_has_none() -> None:
    bundle = ig_example("BOOKREQ01")
    del resources(bundle, "Patient")[0]["identifier"]
    assert classify(bundle).nhs_number is None


def test_an_identifier_of_another_system_is_not_an_nhs_number() -> None:
    assert nhs_number_of({"identifier": [{"system": "https://example.org/mrn", "value": "9054613556"}]}) is None


def test_the_focus_patient_wins_over_other_patients_in_the_bundle() -> None:
    bundle = ig_example("REFREQ01")
    other = {"resourceType": "Patient", "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": "9999999999"}]}
    bundle["entry"].insert(1, {"fullUrl": "urn:uuid:0f0f0f0f-0000-4000-8000-000000000001", "resource": other})
    assert classify(bundle).nhs_number == "3478526985"


def test_unresolvable_focus_falls_back_to_the_only_resource_of_the_expected_type() -> None:
    bundle = ig_example("BOOKREQ01")
    header(bundle)["focus"] = [{"reference": "Appointment/not-in-this-bundle"}]
    found = classify(bundle)
    assert found.kind is MessageKind.BOOKING_NEW
    assert found.focus_type == "Appointment"
    assert found.notes


def test_focus_resolves_by_type_and_id() -> None:
    bundle = ig_example("BOOKREQ01")
    appointment = resources(bundle, "Appointment")[0]
    appointment["id"] = "a-1"
    header(bundle)["focus"] = [{"reference": "Appointment/a-1"}]
    assert classify(bundle).focus is appointment


def test_category_code_is_found_among_use_case_codings() -> None:
    bundle = ig_example("REFREQ01")
    sr = resources(bundle, "ServiceRequest")[0]
    sr["category"] = list(reversed(sr["category"][0]["coding"]))  # one concept per coding, use case first
    sr["category"] = [{"coding": [c]} for c in sr["category"]]
    assert classify(bundle).kind is MessageKind.REFERRAL_NEW


def test_missing_category_falls_back_to_the_definition() -> None:
    bundle = ig_example("VALREQ01")
    del resources(bundle, "ServiceRequest")[0]["category"]
    found = classify(bundle)
    assert (found.kind, found.category) == (MessageKind.VALIDATION_NEW, "validation")


@pytest.mark.parametrize(
    ("status", "reason", "kind"),
    [
        ("revoked", "update", MessageKind.REFERRAL_CANCEL),
        ("entered-in-error", "delete", MessageKind.REFERRAL_CANCEL),
        ("revoked", "new", MessageKind.REFERRAL_CANCEL),
    ],
)
def test_referral_cancellation_is_read_from_the_service_request_status(
    status: str, reason: str, kind: MessageKind
) -> None:
    bundle = ig_example("REFREQ01")
    resources(bundle, "ServiceRequest")[0]["status"] = status
    header(bundle)["reason"]["coding"][0]["code"] = reason
    assert classify(bundle).kind is kind


@pytest.mark.parametrize("status", ["active", "on-hold"])
def test_validation_update(status: str) -> None:
    bundle = ig_example("VALREQ01")
    header(bundle)["reason"]["coding"][0]["code"] = "update"
    resources(bundle, "ServiceRequest")[0]["status"] = status
    assert classify(bundle).kind is MessageKind.VALIDATION_UPDATE


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("in-progress", MessageKind.VALIDATION_RESPONSE_INTERIM),
        ("cancelled", MessageKind.VALIDATION_RESPONSE_INTERIM),
        ("finished", MessageKind.VALIDATION_RESPONSE_FULL),
        ("triaged", MessageKind.VALIDATION_RESPONSE_FULL),
    ],
)
def test_validation_response_kind_follows_the_receiver_encounter(status: str, kind: MessageKind) -> None:
    bundle = ig_example("VALRESP02")
    focus(bundle)["status"] = status
    assert classify(bundle).kind is kind


def test_referral_update_with_an_active_service_request_is_a_referral_update() -> None:
    # Application 6 sends updates of a live referral (IG REFREQ8B-D): update + ServiceRequest active.
    bundle = ig_example("REFREQ01")
    header(bundle)["reason"]["coding"][0]["code"] = "update"
    found = classify(bundle)
    assert (found.workflow, found.kind) == ("referral-update", MessageKind.REFERRAL_NEW)


def test_referral_update_with_a_draft_service_request_is_unknown() -> None:
    bundle = ig_example("REFREQ01")
    header(bundle)["reason"]["coding"][0]["code"] = "update"
    focus(bundle)["status"] = "draft"
    text = invariant_error(bundle)
    assert "referral" in text and "'draft'" in text and "update" in text


def test_booking_with_an_unexpected_appointment_status_is_unknown() -> None:
    bundle = ig_example("BOOKREQ01")
    resources(bundle, "Appointment")[0]["status"] = "noshow"
    assert "'noshow'" in invariant_error(bundle)


def test_service_request_without_referral_or_validation_category_is_unknown() -> None:
    bundle = ig_example("REFREQ01")
    del resources(bundle, "ServiceRequest")[0]["category"]
    del header(bundle)["definition"]
    assert "neither referral nor validation" in invariant_error(bundle)


def test_a_response_without_message_header_response_is_rejected() -> None:
    bundle = ig_example("VALRESP02")
    del header(bundle)["response"]
    assert "MessageHeader.response" in invariant_error(bundle)


def test_a_referral_response_with_a_draft_service_request_is_unknown() -> None:
    bundle = ig_example("REFRESP01")
    focus(bundle)["status"] = "draft"
    assert "'draft'" in invariant_error(bundle)


def test_booking_response_is_not_accepted() -> None:
    bundle = ig_example("BOOKREQ01")
    header(bundle)["eventCoding"]["code"] = "booking-response"
    assert "booking-response" in invariant_error(bundle)


def test_unknown_event_is_rejected_naming_it() -> None:
    bundle = ig_example("BOOKREQ01")
    header(bundle)["eventCoding"]["code"] = "patient-link"
    assert "'patient-link'" in invariant_error(bundle)


def test_bundle_without_message_header_is_rejected() -> None:
    bundle = ig_example("BOOKREQ01")
    bundle["entry"] = bundle["entry"][1:]
    assert "MessageHeader" in invariant_error(bundle)


def test_bundle_that_is_not_a_message_is_rejected() -> None:
    bundle = ig_example("BOOKREQ01")
    bundle["type"] = "collection"
    assert "'collection'" in invariant_error(bundle)


def test_classification_does_not_change_the_bundle() -> None:
    bundle = ig_example("REFRESP01")
    before = repr(bundle)
    classify(bundle)
    assert repr(bundle) == before
