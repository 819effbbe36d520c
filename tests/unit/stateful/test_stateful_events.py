"""Which stateful event a bundle is; linked vs mis-linked referrals."""

from __future__ import annotations

from typing import Any

import pytest
from unit.stateful.stateful_bundles import (
    IG_APPOINTMENT_REF,
    booking_cancel,
    booking_new,
    referral,
    referral_as_published,
    referral_cancel,
)

from tkw.message_kinds import MessageKind
from tkw.stateful.events import (
    STATEFUL_KINDS,
    appointment_entry_ids,
    find_resources,
    referenced_appointment_ids,
    stateful_event,
)
from tkw.stateful.machine import Event

BOOKED = "5f0e7d3a-39a2-4bd1-9a4f-0a3cf0f4a9b1"


@pytest.mark.parametrize(
    ("kind", "bundle", "event"),
    [
        (MessageKind.BOOKING_NEW, booking_new(), Event.MAKE_BOOKING),
        (MessageKind.BOOKING_NEW, booking_new(official=True), Event.MAKE_BOOKING),
        (MessageKind.BOOKING_CANCEL, booking_cancel(), Event.CANCEL_BOOKING),
        (MessageKind.REFERRAL_CANCEL, referral_cancel(), Event.CANCEL_REFERRAL),
    ],
)
def test_kinds_that_map_straight_to_an_event(kind: MessageKind, bundle: dict[str, Any], event: Event) -> None:
    assert stateful_event(kind, bundle, None) == stateful_event(kind, bundle, BOOKED)
    found = stateful_event(kind, bundle, BOOKED)
    assert found is not None and found.event is event and found.note is None


@pytest.mark.parametrize("kind", [k for k in MessageKind if k not in STATEFUL_KINDS], ids=lambda k: str(k))
def test_other_kinds_are_not_stateful_events(kind: MessageKind) -> None:
    assert stateful_event(kind, booking_new(), BOOKED) is None


def test_the_ig_referral_references_its_booking_in_supporting_info() -> None:
    assert referenced_appointment_ids(referral_as_published()) == {IG_APPOINTMENT_REF.split("/")[1]}


def test_a_referral_referencing_the_booked_appointment_is_linked() -> None:
    found = stateful_event(MessageKind.REFERRAL_NEW, referral(BOOKED), BOOKED)
    assert found is not None and found.event is Event.CREATE_LINKED_REFERRAL


def test_a_referral_referencing_another_appointment_is_mislinked_and_says_which() -> None:
    found = stateful_event(MessageKind.REFERRAL_NEW, referral_as_published(), BOOKED)
    assert found is not None and found.event is Event.CREATE_MISLINKED_REFERRAL
    assert found.note is not None and IG_APPOINTMENT_REF in found.note and BOOKED in found.note


def test_a_referral_referencing_no_appointment_is_mislinked_and_says_so() -> None:
    found = stateful_event(MessageKind.REFERRAL_NEW, referral(None), BOOKED)
    assert found is not None and found.event is Event.CREATE_MISLINKED_REFERRAL
    assert found.note is not None and "references no Appointment" in found.note


def test_without_a_booking_a_referral_cannot_be_linked() -> None:
    found = stateful_event(MessageKind.REFERRAL_NEW, referral(BOOKED), None)
    assert found is not None and found.event is Event.CREATE_MISLINKED_REFERRAL


def _with_appointment_entry(bundle: dict[str, Any], full_url: str, resource_id: str | None) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Appointment", "status": "booked"}
    if resource_id:
        resource["id"] = resource_id
    bundle["entry"].append({"fullUrl": full_url, "resource": resource})
    return bundle


def test_an_appointment_entry_with_the_booked_id_links_the_referral() -> None:
    bundle = _with_appointment_entry(referral(None), "urn:uuid:11111111-1111-4111-8111-111111111111", BOOKED)
    assert appointment_entry_ids(bundle) == {BOOKED, "11111111-1111-4111-8111-111111111111"}
    found = stateful_event(MessageKind.REFERRAL_NEW, bundle, BOOKED)
    assert found is not None and found.event is Event.CREATE_LINKED_REFERRAL


def test_an_appointment_entry_with_another_id_is_mislinked() -> None:
    other = "22222222-2222-4222-8222-222222222222"
    bundle = _with_appointment_entry(referral(None), f"urn:uuid:{other}", None)
    found = stateful_event(MessageKind.REFERRAL_NEW, bundle, BOOKED)
    assert found is not None and found.event is Event.CREATE_MISLINKED_REFERRAL
    assert found.note is not None and other in found.note


@pytest.mark.parametrize(
    "reference",
    [
        f"Appointment/{BOOKED}",
        f"https://receiver.example/FHIR/R4/Appointment/{BOOKED}",
        f"Appointment/{BOOKED}/_history/2",
    ],
)
def test_reference_forms(reference: str) -> None:
    bundle = referral(None)
    sr = find_resources(bundle, "ServiceRequest")[0]
    sr["supportingInfo"].append({"reference": reference})
    assert referenced_appointment_ids(bundle) == {BOOKED}


def test_a_urn_reference_resolves_to_the_appointment_entry() -> None:
    full_url = "urn:uuid:33333333-3333-4333-8333-333333333333"
    bundle = _with_appointment_entry(referral(None), full_url, BOOKED)
    find_resources(bundle, "ServiceRequest")[0]["supportingInfo"].append({"reference": full_url})
    assert BOOKED in referenced_appointment_ids(bundle)


def test_references_to_other_resource_types_are_ignored() -> None:
    bundle = referral(None)
    find_resources(bundle, "ServiceRequest")[0]["supportingInfo"].append({"reference": f"Flag/{BOOKED}"})
    assert referenced_appointment_ids(bundle) == set()


def test_focus_is_preferred_and_malformed_bundles_do_not_break_it() -> None:
    assert find_resources(booking_new(), "Appointment")[0]["status"] == "booked"
    assert find_resources({"entry": "nope"}, "Appointment") == []
    assert find_resources({"entry": [None, {"resource": 3}]}, "Appointment") == []
    assert referenced_appointment_ids({}) == set()
    found = stateful_event(MessageKind.REFERRAL_NEW, {"resourceType": "Bundle"}, BOOKED)
    assert found is not None and found.event is Event.CREATE_MISLINKED_REFERRAL
