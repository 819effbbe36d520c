"""The suite as data: what it contains, what it refuses at load, and the payloads it sends."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from bars_support import assert_valid_fhir
from pydantic import ValidationError

from tkw.receiver import paths
from tkw.receiver.builder import RequestBuilder, focus_of
from tkw.receiver.suite import Suite, load_suite, parse_suite

REQUIRED = {
    "capability-statement",
    "message-definition",
    "slot-search",
    "booking-new",
    "booking-get",
    "booking-cancel",
    "referral-new",
    "referral-get",
    "referral-cancel",
    "validation-new",
    "validation-update",
    "validation-cancel",
    "validation-response",
    "safeguarding-dna-response",
    "missing-request-id",
    "malformed-bundle",
    "unknown-appointment",
    "duplicate-request-id",
    "method-not-allowed",
}


def test_the_suite_covers_every_workflow_and_refusal_the_brief_names() -> None:
    suite = load_suite()
    assert set(suite.ids) >= REQUIRED
    negative = {t.id: t.expect for t in suite.tests if t.group == "negative"}
    assert (negative["missing-request-id"].status, negative["missing-request-id"].bars_code) == (400, "REC_BAD_REQUEST")
    assert negative["malformed-bundle"].status == 400
    assert (negative["unknown-appointment"].status, negative["unknown-appointment"].bars_code) == (404, "REC_NOT_FOUND")
    assert (negative["duplicate-request-id"].status, negative["duplicate-request-id"].bars_code) == (
        409,
        "REC_CONFLICT",
    )
    assert negative["method-not-allowed"].status == 405


def test_get_booking_reads_the_id_new_booking_captured() -> None:
    suite = load_suite()
    assert suite.test("booking-new").expect.capture == {"booking_id": "focus.id"}
    get = suite.test("booking-get")
    assert get.depends_on == ["booking-new"]
    assert get.request.path == "/Appointment/${booking_id}"


def _raw() -> dict[str, Any]:
    from importlib import resources

    loaded: dict[str, Any] = yaml.safe_load(resources.files("tkw.receiver").joinpath("suite.yaml").read_text())
    return loaded


@pytest.mark.parametrize(
    ("mutate", "complaint"),
    [
        (lambda d: d["tests"].append(d["tests"][0]), "is used twice"),
        (lambda d: d["tests"][0].update(depends_on=["booking-new"]), "must name an earlier test"),
        (lambda d: d["tests"][0]["request"].update(path="/Appointment/${nobody_captures_this}"), "neither built in"),
        (lambda d: d["tests"][0]["request"].update(payload="no-such-file.json"), "is not in tkw/receiver/payloads"),
        (lambda d: d["tests"][0]["expect"].update(stauts=200), "stauts"),
        (lambda d: d["tests"][0].update(id="Not An Id"), "id"),
    ],
)
def test_suite_data_errors_fail_at_load_with_the_reason(mutate: Any, complaint: str) -> None:
    data = _raw()
    mutate(data)
    with pytest.raises(ValidationError) as err:
        Suite.model_validate(data)
    assert complaint in str(err.value)


def test_a_capture_is_only_usable_by_tests_that_depend_on_its_test() -> None:
    data = _raw()
    for test in data["tests"]:
        if test["id"] == "booking-get":
            test["depends_on"] = []
    with pytest.raises(ValidationError, match="booking_id"):
        Suite.model_validate(data)


def test_selecting_tests_brings_in_what_they_depend_on_in_suite_order() -> None:
    suite = load_suite()
    assert [t.id for t in suite.select(["booking-cancel"])] == ["booking-new", "booking-get", "booking-cancel"]
    assert [t.id for t in suite.select(None)] == suite.ids
    with pytest.raises(KeyError, match="nope"):
        suite.select(["nope"])


def test_the_suite_text_round_trips_through_the_parser() -> None:
    from importlib import resources

    text = resources.files("tkw.receiver").joinpath("suite.yaml").read_text()
    assert parse_suite(text).ids == load_suite().ids


@pytest.mark.parametrize("test_id", [t.id for t in load_suite().tests if t.request.payload])
def test_every_message_sent_is_valid_fhir_addressed_to_the_receiver(test_id: str) -> None:
    """Realistic payloads: valid R4 (R4B models), fresh Bundle.id, the receiver's service as destination."""
    suite = load_suite()
    builder = RequestBuilder(suite=suite, endpoint="https://receiver.example/FHIR/R4", target="2000072489")
    captures = {"booking_id": "b-1", "referral_id": "r-1", "validation_id": "v-1"}
    request = builder.build(suite.test(test_id), captures, {})
    assert request.body is not None
    bundle = json.loads(request.body)
    assert_valid_fhir(bundle)
    assert bundle["type"] == "message"
    assert bundle["id"] == request.bundle_id
    header = bundle["entry"][0]["resource"]
    assert header["destination"][0]["endpoint"] == "https://fhir.nhs.uk/Id/dos-service-id|2000072489"
    patients = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert paths.get(patients[0], "identifier[system=https://fhir.nhs.uk/Id/nhs-number].value") == suite.nhs_number
    assert focus_of(bundle) is not None


def test_cancellations_name_the_resource_the_receiver_created() -> None:
    suite = load_suite()
    builder = RequestBuilder(suite=suite, endpoint="https://receiver.example", target="2000072489")
    captures = {"booking_id": "b-1", "referral_id": "r-1", "validation_id": "v-1"}
    for test_id, wanted_id, status in (
        ("booking-cancel", "b-1", "cancelled"),
        ("referral-cancel", "r-1", "revoked"),
        ("validation-cancel", "v-1", "revoked"),
    ):
        body = builder.build(suite.test(test_id), captures, {}).body
        assert body is not None
        focus = focus_of(json.loads(body))
        assert focus is not None
        assert (focus["id"], focus["status"]) == (wanted_id, status)
        reason = json.loads(body)["entry"][0]["resource"]["reason"]["coding"][0]["code"]
        assert reason == "update", test_id
    referral = json.loads(builder.build(suite.test("referral-cancel"), captures, {}).body or b"")
    category = focus_of(referral)["category"][0]["coding"][0]["code"]  # type: ignore[index]
    assert category == "referral"
