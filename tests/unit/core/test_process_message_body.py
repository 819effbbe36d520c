"""Bad $process-message bodies get a clear OperationOutcome naming where the problem is."""

import json

import pytest
from bars_support import assert_outcome, example, process_message_request

from tkw.pipeline import handle
from tkw.routes import Operation


def post(body: bytes | None, content_type: str = "application/fhir+json") -> tuple[int, dict]:
    response = handle(Operation.PROCESS_MESSAGE, process_message_request(body, content_type))
    return response.status, response.body


def test_malformed_json_says_where() -> None:
    status, body = post(b'{"resourceType": "Bundle",\n "type": message}')
    assert status == 400
    issue = assert_outcome(body, "REC_BAD_REQUEST", "invalid")
    assert "line 2 column 10" in issue["diagnostics"]


@pytest.mark.parametrize("payload", [[], "Bundle", 42, {"resourceType": "Patient"}, {"type": "message"}])
def test_json_that_is_not_a_bundle_is_refused(payload: object) -> None:
    status, body = post(json.dumps(payload).encode())
    assert status == 400
    issue = assert_outcome(body, "REC_BAD_REQUEST", "invalid")
    assert "FHIR Bundle" in issue["diagnostics"]


def test_bundle_that_fhir_rejects_names_the_element() -> None:
    bundle = example("process_message/POST-body.json")
    bundle["entry"][2]["resource"]["birthDate"] = "yesterday"
    bundle["entry"][1]["resource"]["colour"] = "blue"
    status, body = post(json.dumps(bundle).encode())
    assert status == 400
    assert_outcome(body, "REC_BAD_REQUEST", "structure")
    expressions = [e for issue in body["issue"] for e in issue.get("expression", [])]
    assert "Bundle.entry[2].resource(Patient).birthDate" in expressions
    assert "Bundle.entry[1].resource(Appointment).colour" in expressions


@pytest.mark.parametrize("raw", [None, b"", b"   \n"])
def test_empty_body_is_required(raw: bytes | None) -> None:
    status, body = post(raw)
    assert status == 400
    assert_outcome(body, "REC_BAD_REQUEST", "required")


def test_body_over_5_mb_is_413() -> None:
    status, body = post(b'{"resourceType":"Bundle","x":"' + b"a" * (5 * 1024 * 1024) + b'"}')
    assert status == 413
    issue = assert_outcome(body, "REC_PAYLOAD_TOO_LARGE", "too-costly")
    assert "5 MB" in issue["diagnostics"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/fhir+xml", "application/x-www-form-urlencoded", ""]
)
def test_wrong_content_type_is_415(content_type: str) -> None:
    status, body = post(json.dumps(example("process_message/POST-body.json")).encode(), content_type)
    assert status == 415
    issue = assert_outcome(body, "REC_UNSUPPORTED_MEDIA_TYPE", "not-supported")
    assert issue["location"] == ["http.Content-Type"]


def test_invalid_utf8_is_refused() -> None:
    status, body = post(b'{"resourceType": "Bundle", "id": "\xff"}')
    assert status == 400
    assert_outcome(body, "REC_BAD_REQUEST", "invalid")


def test_deeply_nested_json_is_refused_cleanly() -> None:
    status, body = post(b'{"resourceType": "Bundle", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert status == 400
    assert_outcome(body, "REC_BAD_REQUEST")


def test_a_valid_booking_with_parameters_in_content_type_is_admitted() -> None:
    status, body = post(
        json.dumps(example("process_message/POST-body.json")).encode(),
        "application/fhir+json; charset=utf-8; version=1.0.0",
    )
    assert status == 200, body
    assert body["resourceType"] == "Bundle"
