"""The canned resources in the layer: valid FHIR (fhir.resources R4B) and faithful to each service's role."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bars_support import ROOT, assert_valid_fhir

RESOURCES = ROOT / "layers" / "tkw" / "tkw" / "scenarios" / "resources"
MD = "https://fhir.nhs.uk/MessageDefinition/bars-message-"
FILES = sorted(RESOURCES.rglob("*.json"))


def load(relative: str) -> dict[str, Any]:
    return json.loads((RESOURCES / relative).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(RESOURCES)) for p in FILES])
def test_every_canned_resource_is_valid_fhir(path: Path) -> None:
    assert_valid_fhir(json.loads(path.read_text(encoding="utf-8")))


def supported(statement: dict[str, Any], mode: str) -> set[str]:
    return {
        m["definition"].removeprefix(MD) for m in statement["messaging"][0]["supportedMessage"] if m["mode"] == mode
    }


BOOKING = {"booking-request", "booking-request-cancelled"}
REFERRAL = {"servicerequest-request-referral", "servicerequest-request-cancelled"}
VALIDATION = {"servicerequest-request-validation", "servicerequest-request-cancelled"}
DNA = {"servicerequest-response-referral"}
VALIDATION_RESPONSES = {"servicerequest-response-validation-interim", "servicerequest-response-validation-full"}


@pytest.mark.parametrize(
    ("name", "receives", "sends"),
    [
        ("booking-referral-receiver", BOOKING | REFERRAL, DNA),
        ("referral-receiver", REFERRAL, DNA),
        ("booking-referral-sender", DNA, BOOKING | REFERRAL),
        ("validation-sender", VALIDATION_RESPONSES, VALIDATION),
        ("bars-core", BOOKING | REFERRAL | VALIDATION | DNA | VALIDATION_RESPONSES, set()),
    ],
)
def test_capability_statement_messages_reflect_the_services_role(
    name: str, receives: set[str], sends: set[str]
) -> None:
    statement = load(f"capability/{name}.json")
    assert supported(statement, "receiver") == receives
    assert supported(statement, "sender") == sends


def test_capability_statements_are_distinct() -> None:
    statements = [load(f"capability/{p.name}") for p in (RESOURCES / "capability").glob("*.json")]
    assert len(statements) == 5
    assert len({s["id"] for s in statements}) == 5
    assert len({json.dumps(s["messaging"], sort_keys=True) for s in statements}) == 5


def test_only_services_that_take_bookings_offer_slot_search() -> None:
    def server_types(name: str) -> set[str]:
        statement = load(f"capability/{name}.json")
        rest = next(r for r in statement["rest"] if r["mode"] == "server")
        return {r["type"] for r in rest.get("resource", [])}

    assert "Slot" in server_types("booking-referral-receiver")
    assert "Slot" not in server_types("referral-receiver")
    assert "Slot" not in server_types("booking-referral-sender")


def test_message_definitions_have_unique_ids_and_name_the_service_placeholder() -> None:
    definitions = [load(f"message-definitions/{p.name}") for p in (RESOURCES / "message-definitions").glob("*.json")]
    assert len({d["id"] for d in definitions}) == len(definitions) == 17
    for d in definitions:
        dos = [
            u for u in d["useContext"] if u["valueCodeableConcept"]["coding"][0]["system"].endswith("dos-service-id")
        ]
        assert [u["valueCodeableConcept"]["coding"][0]["code"] for u in dos] == ["dos-id"], d["url"]


def use_case_codes(definition: dict[str, Any]) -> list[str]:
    return [
        c["code"]
        for u in definition["useContext"]
        for c in u["valueCodeableConcept"]["coding"]
        if c["system"] == "https://fhir.nhs.uk/CodeSystem/usecases-categories-bars"
    ]


@pytest.mark.parametrize(("application", "code"), [("app5", "a5t1"), ("app6", "a6t1")])
def test_application_message_definitions_carry_their_use_case_category(application: str, code: str) -> None:
    files = sorted((RESOURCES / "message-definitions").glob(f"{application}-*.json"))
    assert files
    for path in files:
        definition = load(f"message-definitions/{path.name}")
        assert use_case_codes(definition) == [code], path.name
        assert not any(f["code"] == "Invoice" for f in definition["focus"])


def test_invalid_message_definitions_each_declare_an_invoice() -> None:
    files = sorted((RESOURCES / "message-definitions").glob("invalid-*.json"))
    events = set()
    for path in files:
        definition = load(f"message-definitions/{path.name}")
        assert [f for f in definition["focus"] if f["code"] == "Invoice"], path.name
        events.add(definition["eventCoding"]["code"])
    assert events == {"booking-request", "servicerequest-request"}  # "for any workflow"


def test_mandatory_slot_set_holds_only_slot_schedule_and_healthcare_service() -> None:
    types = {e["resource"]["resourceType"] for e in load("slots/2000081825.json")["entry"]}
    assert types == {"Slot", "Schedule", "HealthcareService"}


def test_slot_sets_name_their_healthcare_service() -> None:
    for service in ("2000072489", "2000073917", "2000081825"):
        services = [
            e["resource"]
            for e in load(f"slots/{service}.json")["entry"]
            if e["resource"]["resourceType"] == "HealthcareService"
        ]
        assert [s["id"] for s in services] == [service]
        assert services[0]["identifier"][0] == {"system": "https://fhir.nhs.uk/Id/dos-service-id", "value": service}


def test_read_resources_carry_the_guides_ids() -> None:
    assert load("appointment.json")["id"] == "ce1c4ced-2a84-4198-9982-9caf894d0bb7"
    assert load("service-request-referral.json")["id"] == "79120f41-a431-4f08-bcc5-1e67006fcae0"
    assert load("service-request-validation.json")["id"] == "0b42eac3-0175-43c8-bbab-efaa8ca31ccf"
