"""Requests as TKW sends them: headers, query encoding, replay, and the path language."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from tkw.receiver import paths
from tkw.receiver.builder import BuildError, RequestBuilder
from tkw.receiver.suite import load_suite

ENDPOINT = "https://receiver.example/booking-and-referral/FHIR/R4"
# What a Slot search answered (the first Slot of BOOKREQRESP01), as the runner keeps it.
CAPTURED_SLOT = {
    "slot_id": "slot001",
    "free_slot_start": "2021-10-06T09:00:00.000+00:00",
    "free_slot_end": "2021-10-06T09:10:00.000+00:00",
}


def builder(**extra: str) -> RequestBuilder:
    return RequestBuilder(
        suite=load_suite(),
        endpoint=ENDPOINT,
        target="2000072489",
        extra_headers=extra,
        now=lambda: datetime(2026, 11, 24, 14, 5, 30, tzinfo=UTC),
    )


def test_every_request_carries_the_bars_headers() -> None:
    request = builder().build(load_suite().test("a1-capability-statement"), {}, {})
    assert request.url == ENDPOINT + "/metadata"
    target = json.loads(base64.b64decode(request.header("NHSD-Target-Identifier") or ""))
    assert target == {"system": "https://fhir.nhs.uk/Id/dos-service-id", "value": "2000072489"}
    organisation = json.loads(base64.b64decode(request.header("NHSD-End-User-Organisation") or ""))
    assert organisation["resourceType"] == "Organization"
    assert request.header("X-Request-Id") != request.header("X-Correlation-Id")
    assert request.header("Accept") == "application/fhir+json;version=1.0.0"
    assert request.header("Content-Type") is None


def test_messages_carry_content_type_and_use_context() -> None:
    request = builder().build(load_suite().test("a1-booking-new"), CAPTURED_SLOT, {})
    assert request.method == "POST"
    assert request.header("content-type") == "application/fhir+json"
    assert request.header("use-context") == "a1t1|booking|booking-request|new"


def test_the_missing_x_request_id_test_leaves_out_x_request_id_only() -> None:
    request = builder().build(load_suite().test("a5-missing-x-request-id"), {}, {})
    assert request.header("X-Request-Id") is None
    assert request.header("X-Correlation-Id")


def test_slot_search_asks_for_a_window_from_now_with_the_minimum_includes() -> None:
    request = builder().build(load_suite().test("a1-slot-search"), {}, {})
    query = parse_qsl(urlsplit(request.url).query)
    assert ("start", "ge2026-11-24T14:05:00+00:00") in query
    assert ("start", "le2026-12-01T14:05:00+00:00") in query
    assert ("Schedule.actor:HealthcareService", "2000072489") in query
    assert [v for k, v in query if k == "_include"] == ["Slot:schedule", "Schedule:actor:HealthcareService"]
    assert "Schedule.actor%3AHealthcareService=" in request.url  # encoded as BaRS' own examples


def test_captured_ids_are_path_encoded() -> None:
    request = builder().build(load_suite().test("a1-booking-get"), {"booking_id": "a/b c"}, {})
    assert request.url == ENDPOINT + "/Appointment/a%2Fb%20c"


def test_a_missing_capture_is_a_build_error_naming_it() -> None:
    with pytest.raises(BuildError, match="booking_id"):
        builder().build(load_suite().test("a1-booking-get"), {}, {})


def test_replay_sends_exactly_the_same_request() -> None:
    suite = load_suite()
    b = builder()
    first = b.build(suite.test("a5-referral-new"), {}, {})
    again = b.build(suite.test("a5-reused-x-request-id"), {}, {"a5-referral-new": first})
    assert (again.method, again.url, again.headers, again.body) == (first.method, first.url, first.headers, first.body)


def test_run_headers_are_added_and_bodies_get_fresh_bundle_ids() -> None:
    suite = load_suite()
    b = builder(Authorization="Bearer abc")
    one, two = (b.build(suite.test("a1-referral-new"), {}, {}) for _ in range(2))
    assert one.header("Authorization") == "Bearer abc"
    assert one.bundle_id != two.bundle_id


def test_paths_read_and_write_json() -> None:
    document = {"identifier": [{"system": "a.b/c", "value": "1"}, {"system": "x", "value": "2"}], "list": [1, 2]}
    assert paths.get(document, "identifier[system=a.b/c].value") == "1"
    assert paths.get(document, "identifier[1].value") == "2"
    assert paths.get(document, "list[-1]") == 2
    assert paths.get(document, "nothing.here") is paths.MISSING
    assert paths.set_all(document, "identifier[system=x].value", "3") == 1
    assert paths.set_all(document, "meta.versionId", "1.0.0") == 1
    assert document["meta"] == {"versionId": "1.0.0"}
    assert paths.set_all(document, "identifier[system=none].value", "4") == 0
    with pytest.raises(paths.PathError):
        paths.parse("a[b]")


def test_the_booking_books_the_slot_the_search_offered() -> None:
    request = builder().build(load_suite().test("a1-booking-new"), CAPTURED_SLOT, {})
    bundle = json.loads(request.body or b"")
    slot = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Slot")
    appointment = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Appointment")
    assert (slot["id"], slot["start"], slot["end"]) == ("slot001", *list(CAPTURED_SLOT.values())[1:])
    assert (appointment["start"], appointment["end"]) == (slot["start"], slot["end"])


def test_the_same_payload_id_test_resends_the_bundle_id_of_the_new_message() -> None:
    suite = load_suite()
    b = builder()
    first = b.build(suite.test("a5-referral-new"), {}, {})
    again = b.build(suite.test("a5-same-bundle-id"), {}, {"a5-referral-new": first})
    assert json.loads(again.body or b"")["id"] == first.bundle_id
    assert again.header("X-Request-Id") != first.header("X-Request-Id")


def test_paths_match_on_a_nested_key_and_create_no_lists() -> None:
    searchset = {
        "entry": [{"resource": {"resourceType": "Schedule"}}, {"resource": {"resourceType": "Slot", "id": "s"}}]
    }
    assert paths.get(searchset, "entry[resource.resourceType=Slot].resource.id") == "s"
    patient: dict[str, object] = {"resourceType": "Patient"}
    assert paths.set_all(patient, "identifier[system=x].value", "1") == 0
    assert patient == {"resourceType": "Patient"}  # nothing to write, nothing created
