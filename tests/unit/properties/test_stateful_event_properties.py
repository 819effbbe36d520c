"""Property tests of the stateful scenario's event detection (``tkw.stateful.events``).

``tests/unit/stateful/test_stateful_properties.py`` covers the machine and the service for the
bundles the scenario documents; this covers the step before them for *any* admitted bundle: the
event of a message is defined, never an exception, and a referral is linked exactly when it
references (or carries) the booked Appointment.
"""

from __future__ import annotations

import copy
from typing import Any

from fuzz.bundles import message_bundles
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tkw.fhir.message_body import structure_errors
from tkw.fhir.outcome import BarsError
from tkw.message_kinds import MessageKind
from tkw.scenarios.classify import Classification, classify
from tkw.stateful.events import (
    STATEFUL_KINDS,
    appointment_entry_ids,
    referenced_appointment_ids,
    stateful_event,
)
from tkw.stateful.machine import Event

FIXED = {
    MessageKind.BOOKING_NEW: Event.MAKE_BOOKING,
    MessageKind.BOOKING_CANCEL: Event.CANCEL_BOOKING,
    MessageKind.REFERRAL_CANCEL: Event.CANCEL_REFERRAL,
}
REFERRALS = (("ig", "REFREQ01"), ("ig", "REFREQ02"))
booked_ids = st.none() | st.uuids().map(str) | st.just("3cac9cde-a262-42b3-bcf1-215ab79c3e37")


def admitted(bundle: dict[str, Any]) -> Classification | None:
    """The classification of a bundle the pipeline would admit, else None."""
    if structure_errors(bundle):
        return None
    try:
        return classify(bundle)
    except BarsError:
        return None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(message_bundles(), booked_ids)
def test_every_admitted_message_has_a_defined_event(bundle: dict[str, Any], booked: str | None) -> None:
    found = admitted(bundle)
    assume(found is not None)
    assert found is not None
    pristine = copy.deepcopy(bundle)
    event = stateful_event(found.kind, bundle, booked)
    assert bundle == pristine
    if found.kind not in STATEFUL_KINDS:
        assert event is None
    elif found.kind in FIXED:
        assert event is not None and event.event is FIXED[found.kind]
    else:
        linked = booked is not None and booked in referenced_appointment_ids(bundle) | appointment_entry_ids(bundle)
        assert event is not None
        assert event.event is (Event.CREATE_LINKED_REFERRAL if linked else Event.CREATE_MISLINKED_REFERRAL)
        # Mis-linked with a booking to link to: the 409 says why (with none, the table says "no booking").
        assert (event.note is None) == (linked or booked is None)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(
    message_bundles(seeds=REFERRALS, max_mutations=2),
    st.uuids().map(str),
    st.sampled_from(("Appointment/{}", "https://x.example/Appointment/{}")),
)
def test_a_referral_referencing_the_booking_is_linked(bundle: dict[str, Any], booked: str, form: str) -> None:
    found = admitted(bundle)
    assume(found is not None and found.kind is MessageKind.REFERRAL_NEW)
    for entry in bundle["entry"]:
        if entry.get("resource", {}).get("resourceType") == "ServiceRequest":
            entry["resource"]["supportingInfo"] = [{"reference": form.format(booked)}]
    event = stateful_event(MessageKind.REFERRAL_NEW, bundle, booked)
    assert event is not None and event.event is Event.CREATE_LINKED_REFERRAL
