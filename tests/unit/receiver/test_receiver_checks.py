"""Checks on one answer: each says what was expected and what was found."""

from __future__ import annotations

import json
from typing import Any

from unit.receiver.receiver_stubs import outcome

from tkw.receiver.builder import PreparedRequest
from tkw.receiver.checks import judge
from tkw.receiver.suite import Expect
from tkw.receiver.transport import Answer

REQUEST = PreparedRequest(
    test_id="t",
    method="GET",
    url="https://receiver.example/Appointment/x",
    headers=(("X-Request-Id", "11111111-1111-4111-8111-111111111111"), ("X-Correlation-Id", "c-1")),
)
ECHO = (("X-Request-Id", "11111111-1111-4111-8111-111111111111"), ("X-Correlation-Id", "c-1"))


def answer(
    status: int, body: Any, headers: tuple[tuple[str, str], ...] = ECHO, content_type: str = "application/fhir+json"
) -> Answer:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Answer(status=status, headers=((("Content-Type", content_type), *headers)), body=raw, elapsed_ms=12.0)


def checks(expect: Expect, got: Answer, variables: dict[str, str] | None = None) -> dict[str, tuple[bool, str, str]]:
    result = judge(expect, REQUEST, got, variables or {}, 5000)
    return {c.id: (c.passed, c.severity, c.message) for c in result.checks}


NOT_FOUND = Expect(status=404, resource_type="OperationOutcome", bars_code="REC_NOT_FOUND", issue_code="not-found")


def test_a_proper_bars_error_passes_every_check() -> None:
    found = checks(NOT_FOUND, answer(404, outcome("REC_NOT_FOUND", "not-found", "No such Appointment.")))
    assert all(passed for passed, _, _ in found.values()), found


def test_the_codesystem_spelling_of_the_ig_is_accepted_too() -> None:
    body = outcome("REC_NOT_FOUND", "not-found", "No such Appointment.")
    body["issue"][0]["details"]["coding"][0]["system"] = "https://fhir.nhs.uk/CodeSystem/http-error-codes"
    found = checks(NOT_FOUND, answer(404, body))
    assert found["bars-code"][0], found["bars-code"]


def test_a_wrong_code_says_which_was_expected_and_which_came() -> None:
    found = checks(NOT_FOUND, answer(400, outcome("REC_BAD_REQUEST", "invalid", "Bad.")))
    assert found["status"] == (False, "error", "expected HTTP 404 REC_NOT_FOUND, found HTTP 400 (REC_BAD_REQUEST)")
    passed, severity, message = found["bars-code"]
    assert not passed and severity == "error"
    assert "expected BaRS error code REC_NOT_FOUND" in message and message.endswith("found REC_BAD_REQUEST")
    assert found["issue-code"] == (False, "warning", "expected issue[0].code not-found, found invalid")


def test_a_plain_json_error_is_not_fhir_and_has_no_bars_code() -> None:
    found = checks(NOT_FOUND, answer(404, {"error": "not found"}, content_type="application/json"))
    assert found["status"][0]
    assert found["content-type"] == (
        False,
        "warning",
        "expected Content-Type application/fhir+json, found application/json",
    )
    assert not found["fhir-valid"][0] and "JSON without resourceType" in found["fhir-valid"][2]
    assert not found["outcome-shape"][0] and "found JSON without resourceType" in found["outcome-shape"][2]
    assert not found["bars-code"][0]


def test_an_outcome_without_diagnostics_fails_its_shape_saying_so() -> None:
    body = outcome("REC_NOT_FOUND", "not-found", "x")
    del body["issue"][0]["diagnostics"]
    found = checks(NOT_FOUND, answer(404, body))
    assert found["outcome-shape"][:2] == (False, "error")
    assert "without issue[0].diagnostics" in found["outcome-shape"][2]


def test_missing_echo_headers_are_named_with_the_value_expected() -> None:
    found = checks(NOT_FOUND, answer(404, outcome("REC_NOT_FOUND", "not-found", "x"), headers=()))
    assert found["echo-x-request-id"] == (
        False,
        "error",
        "expected X-Request-Id echoed as 11111111-1111-4111-8111-111111111111, found no such header",
    )
    assert found["echo-x-correlation-id"][2] == "expected X-Correlation-Id echoed as c-1, found no such header"


def test_invalid_fhir_names_the_element() -> None:
    expect = Expect(status=200, resource_type="CapabilityStatement")
    found = checks(expect, answer(200, {"resourceType": "CapabilityStatement", "status": "bogus"}))
    passed, _, message = found["fhir-valid"]
    assert not passed
    assert "an invalid CapabilityStatement" in message and "CapabilityStatement.date" in message
    assert found["resource-type"][0]


def test_a_body_that_is_not_json_is_quoted() -> None:
    found = checks(Expect(status=200, resource_type="Appointment"), answer(200, b"<html>oops</html>"))
    assert found["fhir-valid"][2].endswith("found a body that is not JSON: '<html>oops</html>'")
    assert found["resource-type"][2] == "expected resourceType Appointment, found no JSON body"


def test_ids_are_compared_with_what_was_captured() -> None:
    from tkw.receiver.suite import PathCheck

    expect = Expect(
        status=200,
        resource_type="Appointment",
        paths=[PathCheck(id="id-consistent", path="id", equals="${booking_id}", why="the id assigned in booking-new")],
    )
    body = {"resourceType": "Appointment", "id": "other", "status": "booked", "participant": [{"status": "accepted"}]}
    found = checks(expect, answer(200, body), {"booking_id": "abc"})
    assert found["id-consistent"] == (
        False,
        "error",
        "expected id = 'abc' (the id assigned in booking-new), found 'other'",
    )


def test_message_focus_and_captures() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "message",
        "entry": [
            {
                "fullUrl": "urn:uuid:h",
                "resource": {
                    "resourceType": "MessageHeader",
                    "eventCoding": {"code": "booking-request"},
                    "source": {"endpoint": "x"},
                    "focus": [{"reference": "urn:uuid:a"}],
                },
            },
            {
                "fullUrl": "urn:uuid:a",
                "resource": {
                    "resourceType": "Appointment",
                    "status": "booked",
                    "participant": [{"status": "accepted"}],
                },
            },
        ],
    }
    expect = Expect(
        status=200,
        resource_type="Bundle",
        bundle_type="message",
        focus_type="Appointment",
        capture={"booking_id": "focus.id"},
    )
    result = judge(expect, REQUEST, answer(200, bundle), {}, 5000)
    by_id = {c.id: c for c in result.checks}
    assert by_id["focus-type"].passed
    assert not by_id["capture-booking_id"].passed
    assert by_id["capture-booking_id"].message == (
        "expected focus.id to hold the id the receiver assigned (kept as booking_id), found nothing (absent)"
    )
    bundle["entry"][1]["resource"]["id"] = "new-id"  # type: ignore[index]
    assert judge(expect, REQUEST, answer(200, bundle), {}, 5000).captures == {"booking_id": "new-id"}


def test_slow_answers_are_a_warning_not_a_failure() -> None:
    slow = Answer(status=404, headers=ECHO, body=b"", elapsed_ms=9000.0)
    result = judge(NOT_FOUND, REQUEST, slow, {}, 5000)
    timing = next(c for c in result.checks if c.id == "response-time")
    assert (timing.passed, timing.severity, timing.message) == (
        False,
        "warning",
        "expected an answer within 5000 ms, found 9000 ms",
    )


def test_an_answer_is_judged_against_the_profiles_too() -> None:
    """A receiver's Appointment that fhir.resources accepts but whose status is outside the required
    appointmentstatus ValueSet fails, naming the place and the profile."""
    appointment = {
        "resourceType": "Appointment",
        "status": "reserved",
        "start": "2026-11-26T10:00:00+00:00",
        "end": "2026-11-26T10:10:00+00:00",
        "participant": [{"actor": {"display": "Patient"}, "status": "accepted"}],
    }
    expect = Expect(status=200, resource_type="Appointment")
    found = checks(expect, answer(200, appointment))
    assert found["fhir-valid"][0]
    passed, severity, message = found["profile.binding"]
    assert (passed, severity) == (False, "error")
    assert message.startswith("at Appointment.status: ")
    assert "UKCore-Appointment" in message and "appointmentstatus" in message
    appointment["status"] = "booked"
    found = checks(expect, answer(200, appointment))
    assert found["profile"][0] and "uk.nhsdigital.bars.r4#" in found["profile"][2]
