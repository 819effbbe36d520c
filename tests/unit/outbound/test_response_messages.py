"""The response messages the emulator sends, built from the IG examples and filled from the request.

Expected values come from the IG examples themselves (their MessageHeader event, definition and
reason, their statuses) and the issue's contract (MessageHeader.response names the request Bundle,
the request's patient and ids, source and destination swapped, use-context consistent).
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from bars_support import ROOT
from fhir.resources.R4B.bundle import Bundle

from tkw.encoded_headers import decode_target_identifier
from tkw.http import ApiRequest
from tkw.outbound.messages import ResponseKind, build_response, load_table
from tkw.routes import Operation
from tkw.validation import ValidationInput, validate

LIVE = ROOT.parent / "shared" / "bars-spec" / "ig-examples-live"
# kind -> the IG example whose shape it follows
EXAMPLES: dict[ResponseKind, str] = {
    "interim": "VALRESP01A",
    "full": "VALRESP02",
    "full-update": "VALRESP01B",
    "reject": "VALRESP04",
    "dna": "REFRESP01",
    "out-of-area": "REFRESP03",
}


def ig(prefix: str) -> dict[str, Any]:
    path: Path = next(LIVE.glob(f"{prefix}_*.json"))
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def request_bundle(nhs_number: str = "9658499147") -> dict[str, Any]:
    bundle = ig("VALREQ03")
    bundle["id"] = str(uuid.uuid4())
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            resource["identifier"][0]["value"] = nhs_number
        if resource["resourceType"] == "ServiceRequest":
            resource["id"] = "0b42eac3-0175-43c8-bbab-efaa8ca31ccf"
            resource["identifier"] = [{"system": "https://sender.example/Id/referral", "value": "REF-1"}]
    return bundle


REQUEST_HEADERS = {"X-Correlation-Id": str(uuid.uuid4()), "use-context": "a4t1|validation|servicerequest-request|new"}


def of_type(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


@pytest.mark.parametrize("kind", list(EXAMPLES))
def test_each_kind_follows_its_ig_example_and_is_filled_from_the_request(kind: ResponseKind) -> None:
    request = request_bundle()
    message = build_response(kind, request, REQUEST_HEADERS, trigger_id=str(uuid.uuid4()))
    Bundle.model_validate(message.bundle)  # valid FHIR (R4B models)
    example = ig(EXAMPLES[kind])
    header, expected = message.bundle["entry"][0]["resource"], example["entry"][0]["resource"]
    for element in ("eventCoding", "definition", "reason"):
        assert header[element] == expected[element], element
    assert header["response"] == {"identifier": request["id"], "code": "ok"}
    sender, emulated = (request["entry"][0]["resource"][k] for k in ("source", "destination"))
    assert header["destination"][0]["endpoint"] == sender["endpoint"]
    assert header["source"]["endpoint"] == emulated[0]["endpoint"]
    assert message.bundle["id"] != request["id"] and message.bundle["type"] == "message"
    assert of_type(message.bundle, "Patient") == of_type(request, "Patient")
    (service_request,) = of_type(message.bundle, "ServiceRequest")
    assert service_request["id"] == "0b42eac3-0175-43c8-bbab-efaa8ca31ccf"
    assert service_request["identifier"] == [{"system": "https://sender.example/Id/referral", "value": "REF-1"}]
    full_urls = {e["fullUrl"] for e in message.bundle["entry"]}
    focus = header["focus"][0]["reference"]
    assert focus in full_urls


@pytest.mark.parametrize(
    ("kind", "service_request", "encounters"),
    [
        ("interim", "active", {"triaged", "in-progress"}),
        ("full", "completed", {"triaged", "finished"}),
        ("full-update", "completed", {"triaged", "finished"}),
        ("reject", "active", {"triaged", "cancelled"}),
        ("dna", "revoked", {"triaged"}),
    ],
)
def test_statuses_say_what_the_response_means(kind: ResponseKind, service_request: str, encounters: set[str]) -> None:
    message = build_response(kind, request_bundle(), REQUEST_HEADERS, trigger_id=str(uuid.uuid4()))
    assert of_type(message.bundle, "ServiceRequest")[0]["status"] == service_request
    assert {e["status"] for e in of_type(message.bundle, "Encounter")} == encounters


def test_an_interim_and_its_full_response_describe_the_same_encounter() -> None:
    trigger, request = str(uuid.uuid4()), request_bundle()
    interim = build_response("interim", request, REQUEST_HEADERS, trigger_id=trigger)
    full = build_response("full-update", request, REQUEST_HEADERS, trigger_id=trigger)
    ours = [e for e in of_type(interim.bundle, "Encounter") if e["status"] == "in-progress"]
    finished = [e for e in of_type(full.bundle, "Encounter") if e["status"] == "finished"]
    assert [e["id"] for e in ours] == [e["id"] for e in finished]
    assert interim.bundle["id"] != full.bundle["id"]


@pytest.mark.parametrize("kind", ["interim", "full", "full-update", "reject", "dna"])
def test_the_emulators_own_checks_find_no_error_in_what_it_sends(kind: ResponseKind) -> None:
    message = build_response(kind, request_bundle(), REQUEST_HEADERS, trigger_id=str(uuid.uuid4()))
    headers: dict[str, tuple[str, ...]] = {}
    for name, value in message.headers:
        headers[name.lower()] = (*headers.get(name.lower(), ()), value)
    request = ApiRequest(
        method="POST", path="/booking-and-referral/FHIR/R4/$process-message", headers=headers, body=message.body
    )
    target = decode_target_identifier(message.header("NHSD-Target-Identifier") or "")
    findings = validate(
        ValidationInput(
            operation=Operation.PROCESS_MESSAGE,
            request=request,
            body=message.bundle,
            target=target,
            seen_before=False,
            structure_validated=True,
        )
    )
    assert [f.message for f in findings if f.is_failure] == []


def test_headers_identify_the_sender_service_the_emulator_and_the_journey() -> None:
    request = request_bundle()
    message = build_response("full", request, REQUEST_HEADERS, trigger_id=str(uuid.uuid4()), request_id="r-1")
    assert message.header("X-Request-Id") == "r-1"
    assert message.header("X-Correlation-Id") == REQUEST_HEADERS["X-Correlation-Id"]
    target = json.loads(base64.b64decode(message.header("NHSD-Target-Identifier") or ""))
    assert target == {"system": "https://fhir.nhs.uk/Id/dos-service-id", "value": "2222222222"}
    software = json.loads(base64.b64decode(message.header("NHSD-Requesting-Software") or ""))
    assert software["deviceName"][0]["name"] == load_table().responder.software_name
    assert message.header("Accept") == "application/fhir+json;version=1.0.0"
    assert message.header("Content-Type") == "application/fhir+json"
    assert message.header("use-context") == "a4t1|validation|servicerequest-response|new"


def test_the_triggers_are_the_live_guides_response_rows() -> None:
    guide = (ROOT.parent / "shared" / "seed" / "tkw-guide-live-2026.md").read_text(encoding="utf-8")
    cells = [line.split("|") for line in guide.splitlines() if "9658499" in line]
    rows = {c[4].strip(): c[1].strip() for c in cells if "response" in c[1].lower()}
    table = {t.nhs_number: t for t in load_table().triggers}
    assert set(table) == set(rows) == {"9658499147", "9658499155", "9658499163", "9658499171"}
    assert table["9658499147"].steps == ["full"]
    assert table["9658499155"].steps[0] == "interim"
    assert table["9658499163"].steps == table["9658499171"].steps == ["dna"]
    assert table["9658499171"].after_status == [401]  # "... and returns a 401"
