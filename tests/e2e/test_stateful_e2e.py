"""The stateful 111-to-ED scenario over HTTP: the transition table, ids, reset, isolation, races."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from bars_support import assert_outcome, assert_valid_fhir, bars_headers
from emulator_support import Emulator, HttpResult
from unit.stateful.stateful_bundles import booking_cancel, booking_new, referral, referral_cancel


def unique_org() -> str:
    return "T" + uuid.uuid4().hex[:6].upper()


def post(emulator: Emulator, bundle: dict[str, Any], ods: str) -> HttpResult:
    headers = bars_headers(ods=ods) | {"Content-Type": "application/fhir+json"}
    return emulator.bars("POST", "/$process-message", headers, json.dumps(bundle).encode())


def focus_id(result: HttpResult, resource_type: str) -> str:
    body = result.json
    assert_valid_fhir(body)
    ids = [e["resource"]["id"] for e in body["entry"] if e["resource"]["resourceType"] == resource_type]
    assert ids, f"no {resource_type} in the echoed bundle"
    return str(ids[0])


def test_the_whole_journey_book_refer_cancel(emulator: Emulator) -> None:
    ods = unique_org()
    booked = post(emulator, booking_new(), ods)
    assert booked.status == 200, booked.raw[:300]
    appointment_id = focus_id(booked, "Appointment")
    assert appointment_id != "ce1c4ced-2a84-4198-9982-9caf894d0bb7"  # the organisation's own booking

    again = post(emulator, booking_new(), ods)
    assert again.status == 409
    assert "Booking already exists" in assert_outcome(again.json, "REC_CONFLICT")["diagnostics"]

    read = emulator.bars("GET", f"/Appointment/{appointment_id}", bars_headers(ods=ods))
    assert read.status == 200
    assert (read.json["id"], read.json["status"]) == (appointment_id, "booked")

    mislinked = post(emulator, referral(link_to=str(uuid.uuid4())), ods)
    assert mislinked.status == 409
    assert "not linked to the correct booking" in assert_outcome(mislinked.json, "REC_CONFLICT")["diagnostics"]

    referred = post(emulator, referral(link_to=appointment_id), ods)
    assert referred.status == 200, referred.raw[:300]
    service_request_id = focus_id(referred, "ServiceRequest")
    sr = emulator.bars("GET", f"/ServiceRequest/{service_request_id}", bars_headers(ods=ods))
    assert (sr.status, sr.json["status"]) == (200, "active")

    assert post(emulator, referral(link_to=appointment_id), ods).status == 409  # referral already exists
    assert post(emulator, referral_cancel(), ods).status == 200
    assert emulator.bars("GET", f"/ServiceRequest/{service_request_id}", bars_headers(ods=ods)).json["status"] == (
        "revoked"
    )
    assert post(emulator, booking_cancel(), ods).status == 200
    cancelled = emulator.bars("GET", f"/Appointment/{appointment_id}", bars_headers(ods=ods))
    assert cancelled.json["status"] == "cancelled"
    assert post(emulator, booking_new(), ods).status == 200  # re-book after the cancel


@pytest.mark.parametrize(
    ("bundle", "diagnostic"),
    [
        (booking_cancel, "booking this request relates to does not exist"),
        (referral_cancel, "booking this request relates to does not exist"),
    ],
)
def test_from_the_initial_state_cancels_are_400(emulator: Emulator, bundle: Any, diagnostic: str) -> None:
    result = post(emulator, bundle(), unique_org())
    assert result.status == 400
    assert diagnostic in assert_outcome(result.json, "REC_BAD_REQUEST")["diagnostics"]


def test_state_is_per_organisation_and_resets_on_request(emulator: Emulator) -> None:
    first, second = unique_org(), unique_org()
    assert post(emulator, booking_new(), first).status == 200
    assert post(emulator, booking_new(), second).status == 200  # unaffected by the first

    state = emulator.request("GET", "/tkw/state", bars_headers(ods=first))
    assert state.status == 200
    assert state.json["state"] == "appointment-booked"
    appointment_id = state.json["appointment_id"]

    reset = emulator.request("DELETE", "/tkw/state", bars_headers(ods=first))
    assert reset.status == 204
    assert emulator.request("GET", "/tkw/state", bars_headers(ods=first)).json["state"] == "initial"
    assert emulator.bars("GET", f"/Appointment/{appointment_id}", bars_headers(ods=first)).status == 404
    assert emulator.request("GET", "/tkw/state", bars_headers(ods=second)).json["state"] == "appointment-booked"


def test_a_stateful_request_without_an_organisation_is_400(emulator: Emulator) -> None:
    headers = bars_headers() | {"Content-Type": "application/fhir+json"}
    del headers["NHSD-End-User-Organisation"]
    result = emulator.bars("POST", "/$process-message", headers, json.dumps(booking_new()).encode())
    assert result.status == 400
    assert "NHSD-End-User-Organisation" in assert_outcome(result.json, "REC_BAD_REQUEST")["diagnostics"]


def test_parallel_bookings_one_wins(emulator: Emulator) -> None:
    ods = unique_org()
    with ThreadPoolExecutor(max_workers=24) as pool:
        statuses = sorted(pool.map(lambda _: post(emulator, booking_new(), ods).status, range(24)))
    assert statuses == [200] + [409] * 23
