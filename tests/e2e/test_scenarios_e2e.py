"""The sentinel scenarios over real HTTP through the local runner: one row per suite of the guide."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from bars_support import assert_outcome, assert_valid_fhir, bars_headers, ig_example
from emulator_support import Emulator, HttpResult

NHS = "https://fhir.nhs.uk/Id/nhs-number"
MD = "https://fhir.nhs.uk/MessageDefinition/bars-message-"


def post(emulator: Emulator, bundle: dict[str, Any], target: str = "2000011147") -> HttpResult:
    headers = bars_headers(target) | {"Content-Type": "application/fhir+json"}
    return emulator.bars("POST", "/$process-message", headers, json.dumps(bundle).encode())


def for_patient(bundle: dict[str, Any], nhs_number: str) -> dict[str, Any]:
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Patient":
            entry["resource"]["identifier"] = [{"system": NHS, "value": nhs_number}]
    return bundle


def focus_of(bundle: dict[str, Any]) -> dict[str, Any]:
    reference = bundle["entry"][0]["resource"]["focus"][0]["reference"]
    return next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == reference)


def test_capability_statement_of_the_referral_receiver(emulator: Emulator) -> None:
    result = emulator.bars("GET", "/metadata", bars_headers("2000076289"))
    assert result.status == 200
    assert_valid_fhir(result.json)
    statement = result.json
    received = {m["definition"] for m in statement["messaging"][0]["supportedMessage"] if m["mode"] == "receiver"}
    assert received == {MD + "servicerequest-request-referral", MD + "servicerequest-request-cancelled"}


def test_message_definition_fail0401(emulator: Emulator) -> None:
    result = emulator.bars("GET", "/MessageDefinition?context=FAIL0401", bars_headers())
    assert result.status == 401
    assert result.header("Content-Type") == "application/fhir+json"
    assert_outcome(result.json, "REC_UNAUTHORIZED", "security")


def test_mandatory_slot_response(emulator: Emulator) -> None:
    query = urlencode(
        [
            ("status", "free"),
            ("start", "ge2026-11-02T09:00:00+00:00"),
            ("start", "le2026-11-02T17:00:00+00:00"),
            ("Schedule.actor:HealthcareService", "2000081825"),
            ("_include", "Slot:schedule"),
            ("_include", "Schedule:actor:HealthcareService"),
            ("_include", "Schedule:actor:Practitioner"),
        ]
    )
    result = emulator.bars("GET", f"/Slot?{query}", bars_headers())
    assert result.status == 200, result.raw[:300]
    assert_valid_fhir(result.json)
    types = {e["resource"]["resourceType"] for e in result.json["entry"]}
    assert types == {"Slot", "Schedule", "HealthcareService"}
    assert result.json["link"][0]["url"].startswith(emulator.base + "/Slot?")


def test_new_booking_for_the_verified_patient(emulator: Emulator) -> None:
    result = post(emulator, for_patient(ig_example("BOOKREQ01"), "9054613556"))
    assert result.status == 200, result.raw[:300]
    assert_valid_fhir(result.json)
    assert focus_of(result.json)["id"] == "ce1c4ced-2a84-4198-9982-9caf894d0bb7"


def test_get_referral_429_carries_retry_after(emulator: Emulator) -> None:
    headers = bars_headers()
    result = emulator.bars("GET", "/ServiceRequest/9d280ad9-6dda-46d2-a75e-f5b47b2f4e87", headers)
    assert result.status == 429
    assert result.header("Retry-After") == "1"
    assert result.header("X-Request-Id") == headers["X-Request-Id"]
    assert_outcome(result.json, "REC_TOO_MANY_REQUESTS", "throttled")


def test_validation_request_then_its_408_read(emulator: Emulator) -> None:
    created = post(emulator, for_patient(ig_example("VALREQ01"), "9945210394"), target="2000008878")
    assert created.status == 200, created.raw[:300]
    service_request_id = focus_of(created.json)["id"]
    assert service_request_id == "9e595424-9d67-45db-9a90-03259653cd37"
    result = emulator.bars("GET", f"/ServiceRequest/{service_request_id}", bars_headers("2000008878"))
    assert result.status == 408
    assert_outcome(result.json, "REC_TIMEOUT", "timeout")


def test_interim_validation_response_is_accepted(emulator: Emulator) -> None:
    bundle = ig_example("VALRESP01A")
    result = post(emulator, bundle, target="2000011149")
    assert result.status == 200, result.raw[:300]
    assert_valid_fhir(result.json)
    assert result.json["id"] == bundle["id"]
