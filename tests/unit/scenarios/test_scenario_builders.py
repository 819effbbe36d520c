"""Response builders: Slot windows and includes, message echo, patient searches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from bars_support import assert_valid_fhir, ig_example

from tkw.scenarios import builders

NOW = datetime(2030, 3, 4, 15, 12, tzinfo=UTC)


def slot_set(service: str = "2000072489") -> builders.SlotSet:
    return builders.SlotSet(builders.load_resource(builders.resources_root(), f"slots/{service}.json"))


def slots_of(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if e["resource"]["resourceType"] == "Slot"]


@pytest.mark.parametrize(
    ("values", "lower", "upper", "inclusive"),
    [
        (
            ["ge2026-11-01T09:00:00+00:00", "le2026-11-30T17:00:00+00:00"],
            "2026-11-01T09:00:00+00:00",
            "2026-11-30T17:00:00+00:00",
            True,
        ),
        (
            ["gt2026-11-01T09:00:00Z", "lt2026-11-02T09:00:00Z"],
            "2026-11-01T09:00:00+00:00",
            "2026-11-02T09:00:00+00:00",
            False,
        ),
        # An unencoded '+' arrives as a space.
        (["ge2026-11-01T09:00:00 00:00"], "2026-11-01T09:00:00+00:00", None, True),
        (["not-a-date", "le2026-13-45"], None, None, True),
    ],
)
def test_start_window_parsing(values: list[str], lower: str | None, upper: str | None, inclusive: bool) -> None:
    window = builders.parse_window(values)
    assert (window.lower.isoformat() if window.lower else None) == lower
    assert (window.upper.isoformat() if window.upper else None) == upper
    assert window.upper_inclusive is inclusive


def test_slots_start_at_the_first_half_hour_of_the_window() -> None:
    window = builders.parse_window(["ge2026-11-01T09:10:00+01:00"])
    bundle = slot_set().build(frozenset({"free"}), window, [], NOW, "self")
    starts = [s["start"] for s in slots_of(bundle)]
    assert starts == ["2026-11-01T08:30:00+00:00", "2026-11-01T09:30:00+00:00", "2026-11-01T10:30:00+00:00"]


def test_slots_after_the_window_are_not_matched() -> None:
    window = builders.parse_window(["ge2026-11-01T09:00:00+00:00", "le2026-11-01T10:00:00+00:00"])
    bundle = slot_set().build(frozenset({"free", "busy"}), window, [], NOW, "self")
    assert [s["start"][11:16] for s in slots_of(bundle)] == ["09:00", "09:30", "10:00"]
    assert bundle["total"] == 3


def test_without_a_window_slots_are_tomorrow_morning() -> None:
    bundle = slot_set().build(frozenset({"free"}), builders.SlotWindow(), [], NOW, "self")
    assert slots_of(bundle)[0]["start"] == "2030-03-05T09:00:00+00:00"
    assert all(s["end"] > s["start"] for s in slots_of(bundle))


def test_includes_bring_only_what_was_asked_and_served() -> None:
    slots = slot_set()
    asked = [
        ("_include", "slot:schedule"),
        ("_include:iterate", "Schedule:actor:HealthcareService,HealthcareService.providedBy"),
        ("_include", "Bogus"),
        ("_include", "Slot:*"),
    ]
    honoured = slots.honoured(asked)
    assert honoured == [
        ("_include", "Slot:schedule"),
        ("_include:iterate", "Schedule:actor:HealthcareService"),
        ("_include:iterate", "HealthcareService:providedBy"),
    ]
    bundle = slots.build(frozenset({"free"}), builders.SlotWindow(), [n for _, n in honoured], NOW, "self")
    included = [e["resource"]["resourceType"] for e in bundle["entry"] if e["search"]["mode"] == "include"]
    assert included == ["Schedule", "HealthcareService", "Organization"]
    assert_valid_fhir(bundle)


def test_the_mandatory_service_cannot_honour_practitioner_includes() -> None:
    asked = [("_include", "Schedule:actor:Practitioner"), ("_include", "Slot:*")]
    assert slot_set("2000081825").honoured(asked) == [("_include", "Slot:schedule")]


def test_no_match_means_no_includes_and_no_entry_array() -> None:
    bundle = slot_set("2000073917").build(frozenset({"free"}), builders.SlotWindow(), ["Slot:schedule"], NOW, "self")
    assert bundle["total"] == 0
    assert "entry" not in bundle
    assert_valid_fhir(bundle)


def test_building_twice_gives_independent_copies() -> None:
    slots = slot_set()
    first = slots.build(frozenset({"free"}), builders.SlotWindow(), [], NOW, "self")
    first["entry"][0]["resource"]["status"] = "busy"
    second = slots.build(frozenset({"free"}), builders.SlotWindow(), [], NOW, "self")
    assert second["entry"][0]["resource"]["status"] == "free"


def test_echo_assigns_the_focus_id_and_fresh_ids_without_touching_the_request() -> None:
    bundle = ig_example("BOOKREQ01")
    before = repr(bundle)
    echoed = builders.echo_message(bundle, 1, "ce1c4ced-2a84-4198-9982-9caf894d0bb7", new_id=lambda: "fresh")
    assert repr(bundle) == before
    assert echoed["entry"][1]["resource"]["id"] == "ce1c4ced-2a84-4198-9982-9caf894d0bb7"
    ids = {e["resource"]["resourceType"]: e["resource"]["id"] for e in echoed["entry"]}
    assert ids["MessageHeader"] == "fresh"
    assert ids["Slot"] == "da83ae28-46f0-4aad-9c54-dcad462cafcb"  # kept: the sender's own
    assert echoed["id"] == bundle["id"]
    assert [e["fullUrl"] for e in echoed["entry"]] == [e["fullUrl"] for e in bundle["entry"]]


def test_echo_without_a_focus_id_keeps_the_senders_focus_id() -> None:
    bundle = ig_example("VALRESP02")
    echoed = builders.echo_message(bundle, 4, None)
    assert echoed["entry"][4]["resource"]["id"] == bundle["entry"][4]["resource"]["id"]


def test_patient_search_names_the_patient_searched_for() -> None:
    root = builders.resources_root()
    search = builders.PatientSearch([builders.load_resource(root, "appointment.json")])
    bundle = search.build("9000000009", "http://h", "http://h/x")
    actor = bundle["entry"][0]["resource"]["participant"][0]["actor"]
    assert actor["identifier"]["value"] == "9000000009"
    assert (
        bundle["entry"][0]["fullUrl"]
        == "http://h/booking-and-referral/FHIR/R4/Appointment/ce1c4ced-2a84-4198-9982-9caf894d0bb7"
    )


def test_self_link_encodes_the_pipe_but_keeps_colons_and_commas() -> None:
    link = builders.self_link(
        "http://h", "/p", [("patient:identifier", "https://fhir.nhs.uk/Id/nhs-number|1"), ("status", "free,busy")]
    )
    assert link == "http://h/p?patient:identifier=https:%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C1&status=free,busy"
