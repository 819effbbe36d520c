"""The edge's answer is serialised once: the JSON text the sender gets is the text its report keeps,
and bad input gets the same OperationOutcome either way."""

from __future__ import annotations

import json
from typing import Any

import pytest
from bars_support import FIXTURES, assert_outcome, assert_valid_fhir, process_message_request

from tkw.http import ApiResponse
from tkw.pipeline import handle
from tkw.reports.memory import InMemoryReportStore
from tkw.routes import Operation
from tkw.services import Services
from tkw.settings import Settings
from tkw.stateful import InMemoryStateStore

BOOKING = (FIXTURES / "booking-request.json").read_bytes()


def _services(**settings: Any) -> Services:
    found = Services(settings=Settings(**settings))
    found.state = InMemoryStateStore()
    found.reports = InMemoryReportStore()
    return found


def _post(
    body: bytes, services: Services, *, serialised: bool, content_type: str = "application/fhir+json"
) -> ApiResponse:
    return handle(
        Operation.PROCESS_MESSAGE, process_message_request(body, content_type), services, serialised=serialised
    )


def _stored_response_body(services: Services, response: ApiResponse) -> str | None:
    report_id = response.headers["TKW-Report-Id"]
    assert services.report_handoff.wait_for(report_id, 10)
    record = services.reports.get("A1001", report_id, 0)
    assert record is not None
    return record.exchange.response_body


def test_the_booking_answer_is_sent_as_text_and_the_report_keeps_that_very_text() -> None:
    services = _services()
    response = _post(BOOKING, services, serialised=True)
    assert response.status == 200
    assert isinstance(response.body, str)
    bundle = json.loads(response.body)
    assert_valid_fhir(bundle)
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "message")
    assert _stored_response_body(services, response) == response.body


def test_the_report_of_an_answer_kept_as_data_holds_the_same_text_as_the_sender_would_get() -> None:
    services = _services()
    response = _post(BOOKING, services, serialised=False)
    assert isinstance(response.body, dict)
    assert _stored_response_body(services, response) == response.body_text()


def _without_ids(outcome: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in outcome.items() if k != "id"}  # every OperationOutcome has a fresh id


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"resourceType": "Bundle",\n "type": message}', "application/fhir+json", 400, "REC_BAD_REQUEST"),
        (b"\xff\xfe{}", "application/fhir+json", 400, "REC_BAD_REQUEST"),
        (b"", "application/fhir+json", 400, "REC_BAD_REQUEST"),
        (b'{"resourceType": "Patient"}', "application/fhir+json", 400, "REC_BAD_REQUEST"),
        (b"[" * 100_000 + b"]" * 100_000, "application/fhir+json", 400, "REC_BAD_REQUEST"),
        (b'{"resourceType":"Bundle","type":"message","entry":[' + b",".join([b"{}"] * 1001) + b"]}",
         "application/fhir+json", 413, "REC_PAYLOAD_TOO_LARGE"),
        (BOOKING, "application/fhir+xml", 415, "REC_UNSUPPORTED_MEDIA_TYPE"),
        (BOOKING, "text/plain", 415, "REC_UNSUPPORTED_MEDIA_TYPE"),
    ],
)  # fmt: skip
def test_bad_input_gets_the_same_operation_outcome_sent_as_text(
    body: bytes, content_type: str, status: int, code: str
) -> None:
    services = _services()
    as_data = _post(body, services, serialised=False, content_type=content_type)
    as_text = _post(body, services, serialised=True, content_type=content_type)
    assert (as_data.status, as_text.status) == (status, status)
    assert isinstance(as_text.body, str) and isinstance(as_data.body, dict)
    assert_outcome(json.loads(as_text.body), code)
    assert _without_ids(json.loads(as_text.body)) == _without_ids(as_data.body)
    assert _stored_response_body(services, as_text) == as_text.body


def test_strict_mode_still_refuses_on_the_request_path_with_the_text_it_reports() -> None:
    services = _services(strict_mode=True)
    bundle = json.loads(BOOKING)
    bundle["entry"][0]["resource"]["colour"] = "blue"  # not FHIR: strict mode answers 400
    response = _post(json.dumps(bundle).encode(), services, serialised=True)
    assert response.status == 400
    assert isinstance(response.body, str)
    assert_outcome(json.loads(response.body), "REC_BAD_REQUEST")
    assert _stored_response_body(services, response) == response.body
