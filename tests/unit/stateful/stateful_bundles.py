"""Stateful-scenario request bundles: copies of the IG / official examples for patient 9707606312.

Imported as ``unit.stateful.stateful_bundles`` (``tests`` is on the pytest pythonpath).
"""

from __future__ import annotations

from typing import Any

from bars_support import example, ig_example

from tkw.message_kinds import NHS_NUMBER_SYSTEM, MessageKind
from tkw.stateful.machine import Event

PATIENT = "9707606312"
IG_APPOINTMENT_REF = "Appointment/3cac9cde-a262-42b3-bcf1-215ab79c3e37"  # REFREQ01's supportingInfo


def for_stateful_patient(bundle: dict[str, Any]) -> dict[str, Any]:
    for entry in bundle.get("entry", []):
        resource = entry.get("resource", {})
        if resource.get("resourceType") == "Patient":
            for ident in resource.get("identifier", []):
                if ident.get("system") == NHS_NUMBER_SYSTEM:
                    ident["value"] = PATIENT
    return bundle


def booking_new(official: bool = False) -> dict[str, Any]:
    source = example("process_message/POST-body.json") if official else ig_example("BOOKREQ01")
    return for_stateful_patient(source)


def booking_cancel() -> dict[str, Any]:
    return for_stateful_patient(ig_example("BOOKREQ02"))


def _service_request(bundle: dict[str, Any]) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ServiceRequest")


def referral(link_to: str | None) -> dict[str, Any]:
    """REFREQ01 (111 to ED) whose supportingInfo references ``Appointment/{link_to}`` (None: no Appointment)."""
    bundle = for_stateful_patient(ig_example("REFREQ01"))
    service_request = _service_request(bundle)
    infos = [i for i in service_request["supportingInfo"] if i.get("reference") != IG_APPOINTMENT_REF]
    if link_to is not None:
        infos.append({"reference": f"Appointment/{link_to}", "display": "Booking"})
    service_request["supportingInfo"] = infos
    return bundle


def referral_as_published() -> dict[str, Any]:
    """REFREQ01 unchanged: its supportingInfo references the IG's own Appointment id."""
    return for_stateful_patient(ig_example("REFREQ01"))


def referral_cancel() -> dict[str, Any]:
    """SERVREQ01 (the IG's cancellation, published for a 999-CAS validation) as a 111-to-ED referral."""
    bundle = for_stateful_patient(ig_example("SERVREQ01"))
    _service_request(bundle)["category"] = [
        {"coding": [{"system": "https://fhir.nhs.uk/CodeSystem/message-category-servicerequest", "code": "referral"}]},
        {"coding": [{"system": "https://fhir.nhs.uk/CodeSystem/usecases-categories-bars", "code": "a1t1"}]},
    ]
    return bundle


def request_for(event: Event, booked_id: str | None) -> tuple[MessageKind, dict[str, Any]]:
    """A (kind, bundle) that is ``event`` for an organisation whose booking is ``booked_id``."""
    if event is Event.MAKE_BOOKING:
        return MessageKind.BOOKING_NEW, booking_new()
    if event is Event.CANCEL_BOOKING:
        return MessageKind.BOOKING_CANCEL, booking_cancel()
    if event is Event.CREATE_LINKED_REFERRAL:
        return MessageKind.REFERRAL_NEW, referral(booked_id or "00000000-0000-4000-8000-000000000000")
    if event is Event.CREATE_MISLINKED_REFERRAL:
        return MessageKind.REFERRAL_NEW, referral_as_published()
    return MessageKind.REFERRAL_CANCEL, referral_cancel()
