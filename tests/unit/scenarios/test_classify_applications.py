"""Every IG message example is classified: its workflow, the answer kind and the use case it carries.

Expected values come from the examples' own MessageHeader/ServiceRequest (see the table in
ig-examples-live/README.md) and the Application pages: App 6 updates are referral updates
(REFREQ8B-D: reason update, ServiceRequest active), REFRESP03 is an App 6 status response.
"""

from __future__ import annotations

from typing import Any

import pytest
from bars_support import ig_example, live_example

from tkw.message_kinds import MessageKind
from tkw.scenarios.classify import classify

LIVE = [
    ("BOOKREQ01", "booking-new", MessageKind.BOOKING_NEW, "a1t1"),
    ("BOOKREQ02", "booking-cancel", MessageKind.BOOKING_CANCEL, "a1t1"),
    ("REFREQ01", "referral-new", MessageKind.REFERRAL_NEW, "a1t1"),
    ("REFREQ03", "referral-new", MessageKind.REFERRAL_NEW, "a5t1"),
    ("REFREQ04", "referral-new", MessageKind.REFERRAL_NEW, "a6t1"),
    ("REFREQ8A", "referral-new", MessageKind.REFERRAL_NEW, "a6t1"),
    ("REFREQ8B", "referral-update", MessageKind.REFERRAL_NEW, "a6t1"),
    ("REFREQ8C", "referral-update", MessageKind.REFERRAL_NEW, "a6t1"),
    ("REFREQ8D", "referral-update", MessageKind.REFERRAL_NEW, "a6t1"),
    ("REFRESP01", "safeguarding-dna-response", MessageKind.SAFEGUARDING_DNA_RESPONSE, "a1t1"),
    ("REFRESP03", "referral-response-status", MessageKind.SAFEGUARDING_DNA_RESPONSE, "a6t1"),
    ("SERVREQ01", "validation-cancel", MessageKind.VALIDATION_CANCEL, "a4t1"),
    ("VALREQ02", "validation-update", MessageKind.VALIDATION_UPDATE, "a4t1"),
    ("VALREQ03", "validation-new", MessageKind.VALIDATION_NEW, "a4t1"),
    ("VALRESP01A", "validation-response-interim", MessageKind.VALIDATION_RESPONSE_INTERIM, "a4t1"),
    ("VALRESP01B", "validation-response-full", MessageKind.VALIDATION_RESPONSE_FULL, "a4t1"),
    ("VALRESP02", "validation-response-full", MessageKind.VALIDATION_RESPONSE_FULL, "a4t1"),
    ("VALRESP04", "validation-response-interim", MessageKind.VALIDATION_RESPONSE_INTERIM, "a4t1"),
]
OLDER = [
    ("BOOKREQ01", "booking-new", "a1t1"),
    ("BOOKREQ02", "booking-cancel", "a1t1"),
    ("REFREQ01", "referral-new", "a1t1"),
    ("REFREQ02", "referral-new", "a3t1"),
    ("REFRESP01", "safeguarding-dna-response", "a1t1"),
    ("SERVREQ01", "validation-cancel", "a4t1"),
    ("VALREQ01", "validation-new", "a4t1"),
    ("VALRESP01A", "validation-response-interim", "a4t1"),
    # The receiver's HTTP acknowledgement of a validation request echoes the request (reason new, SR active).
    ("VALRESP01_", "validation-new", "a4t1"),
    ("VALRESP02", "validation-response-full", "a4t1"),
]


def _service_request(bundle: dict[str, Any]) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ServiceRequest")


def _use_case_coding(service_request: dict[str, Any]) -> dict[str, Any]:
    return next(
        c
        for cc in service_request["category"]
        for c in cc["coding"]
        if c["system"].endswith("usecases-categories-bars")
    )


def _header(bundle: dict[str, Any]) -> dict[str, Any]:
    return bundle["entry"][0]["resource"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("prefix", "workflow", "kind", "use_case"), LIVE)
def test_live_ig_examples_are_classified(prefix: str, workflow: str, kind: MessageKind, use_case: str) -> None:
    found = classify(live_example(prefix))
    assert (found.workflow, found.kind, found.use_case) == (workflow, kind, use_case)


@pytest.mark.parametrize(("prefix", "workflow", "use_case"), OLDER)
def test_older_ig_examples_are_classified(prefix: str, workflow: str, use_case: str) -> None:
    found = classify(ig_example(prefix))
    assert (found.workflow, found.use_case) == (workflow, use_case)


def test_an_app6_update_keeps_its_own_service_request_id_as_sent() -> None:
    bundle = live_example("REFREQ8C")
    found = classify(bundle)
    assert found.focus["id"] == "1118ec8e-0602-4d02-af8a-7b3cb72be619"
    assert any("answered as a referral-new" in note for note in found.notes)


def test_an_app6_cancellation_is_a_referral_cancel() -> None:
    bundle = live_example("REFREQ04")
    _header(bundle)["reason"]["coding"][0]["code"] = "update"
    _service_request(bundle)["status"] = "revoked"
    found = classify(bundle)
    assert (found.workflow, found.kind, found.use_case) == ("referral-cancel", MessageKind.REFERRAL_CANCEL, "a6t1")


@pytest.mark.parametrize("use_case", ["a6t2", "a6t3"])
def test_call_assist_and_mutual_aid_requests_are_referrals(use_case: str) -> None:
    bundle = live_example("REFREQ04")
    _use_case_coding(_service_request(bundle))["code"] = use_case
    found = classify(bundle)
    assert (found.workflow, found.use_case) == ("referral-new", use_case)


@pytest.mark.parametrize("use_case", ["a6t2", "a6t3"])
def test_a_rejected_call_assist_or_mutual_aid_is_a_rejection_response(use_case: str) -> None:
    # App 6 page: a Call Assist / Mutual Aid rejection has ServiceRequest revoked, Encounter cancelled.
    bundle = live_example("REFRESP03")
    service_request = _service_request(bundle)
    service_request["status"] = "revoked"
    _use_case_coding(service_request)["code"] = use_case
    found = classify(bundle)
    assert (found.workflow, found.kind) == ("referral-response-rejection", MessageKind.SAFEGUARDING_DNA_RESPONSE)


def test_an_app6_status_response_focused_on_the_encounter_is_a_status_response() -> None:
    # The App 6 responses page: MessageHeader.focus must reference the responder's current Encounter.
    bundle = live_example("REFRESP03")
    encounter = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Encounter")
    _header(bundle)["focus"] = [{"reference": encounter["fullUrl"]}]
    assert classify(bundle).workflow == "referral-response-status"


def test_an_app6_update_response_is_a_status_response() -> None:
    bundle = live_example("REFRESP03")
    _header(bundle)["reason"]["coding"][0]["code"] = "update"
    assert classify(bundle).workflow == "referral-response-status"


def test_a_service_request_with_only_a_use_case_category_is_read_from_it() -> None:
    bundle = live_example("REFREQ03")
    service_request = _service_request(bundle)
    service_request["category"] = [{"coding": [_use_case_coding(service_request)]}]
    del _header(bundle)["definition"]
    found = classify(bundle)
    assert (found.workflow, found.use_case) == ("referral-new", "a5t1")
    assert any("used use case a5t1" in note for note in found.notes)
