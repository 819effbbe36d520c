"""UCC in the emulator's own answers (TKW 1.0.19: NBRS-3798 MessageDefinitions, NBRS-3800
synchronous responses)."""

from __future__ import annotations

from typing import Any

import pytest
from bars_support import assert_valid_fhir, example, live_example

from tkw.scenarios import builders

UCC = "https://fhir.nhs.uk/CodeSystem/usecases-categories-bars"


def definitions() -> builders.MessageDefinitions:
    root = builders.resources_root()
    files = ["message-definitions/servicerequest-request-referral.json", "message-definitions/booking-request.json"]
    return builders.MessageDefinitions([builders.load_resource(root, f) for f in files])


def use_cases(definition: dict[str, Any]) -> list[str]:
    return [
        c["code"] for u in definition["useContext"] for c in u["valueCodeableConcept"]["coding"] if c["system"] == UCC
    ]


@pytest.mark.parametrize(
    ("service", "expected"),
    # App 5 page: a5t1 is the only live App 5 use case; App 6: a6t1, a6t2, a6t3.
    [("2000070513", ["a5t1"]), ("2000159909", ["a6t1", "a6t2", "a6t3"]), ("2000159910", ["a6t1", "a6t2", "a6t3"])],
)
def test_message_definitions_of_an_application_service_name_its_use_cases(service: str, expected: list[str]) -> None:
    bundle = definitions().build(service, "http://127.0.0.1:3000", "http://127.0.0.1:3000/x")
    assert_valid_fhir(bundle)
    for entry in bundle["entry"]:
        assert use_cases(entry["resource"]) == expected
        services = [
            c["code"]
            for u in entry["resource"]["useContext"]
            for c in u["valueCodeableConcept"]["coding"]
            if c["system"] == "https://fhir.nhs.uk/Id/dos-service-id"
        ]
        assert services == [service]


def test_message_definitions_of_a_shared_service_keep_their_own_use_cases() -> None:
    bundle = definitions().build("2000011147", "http://127.0.0.1:3000", "http://127.0.0.1:3000/x")
    booking = next(e["resource"] for e in bundle["entry"] if "booking" in e["resource"]["url"])
    assert use_cases(booking) == ["a1t1"]


def test_the_echo_adds_the_use_case_to_a_focus_without_one() -> None:
    bundle = example("process_message/POST-body.json")  # the 1.0.0 example has no UCC
    focus = next(i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "Appointment")
    echoed = builders.echo_message(bundle, focus, "ce1c4ced-2a84-4198-9982-9caf894d0bb7", use_case="a1t1")
    assert_valid_fhir(echoed)
    category = echoed["entry"][focus]["resource"]["serviceCategory"]
    assert category[-1]["coding"] == [{"system": UCC, "code": "a1t1", "display": "111 to ED"}]
    assert "serviceCategory" not in bundle["entry"][focus]["resource"], "the request stays as received"


def test_the_echo_keeps_the_senders_use_case() -> None:
    bundle = live_example("REFREQ03")
    echoed = builders.echo_message(bundle, 1, "79120f41-a431-4f08-bcc5-1e67006fcae0", use_case="a6t1")
    codings = [c for concept in echoed["entry"][1]["resource"]["category"] for c in concept["coding"]]
    assert [c["code"] for c in codings if c["system"] == UCC] == ["a5t1"]
