"""The stateful service over the in-memory store: every cell, follow-ons, reads, resets, races."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from bars_support import assert_outcome, b64json, organisation
from unit.stateful.stateful_bundles import (
    booking_cancel,
    booking_new,
    referral,
    referral_as_published,
    referral_cancel,
    request_for,
)
from unit.stateful.test_stateful_machine import SEED_TABLE

from tkw.fhir.outcome import BarsError
from tkw.message_kinds import MessageKind
from tkw.stateful import (
    InMemoryStateStore,
    State,
    apply,
    get_state,
    handles,
    organisation_from_header,
    read_appointment,
    read_service_request,
    reset,
    with_assigned_id,
)
from tkw.stateful.machine import Event
from tkw.stateful.store import Commit, ResourceRecord, StateRecord, StateStore

ODS = "A1001"
NOON = datetime(2026, 5, 12, 12, 0, tzinfo=UTC).timestamp()


def drive_to(state: State, store: InMemoryStateStore, ods: str = ODS, now: float = NOON) -> dict[str, str]:
    """Put ``ods`` in ``state`` the way a sender would; returns the ids issued."""
    ids: dict[str, str] = {}
    if state is State.INITIAL:
        return ids
    booked = apply(MessageKind.BOOKING_NEW, booking_new(), ods, store, now)
    assert booked is not None
    ids["appointment"] = booked.resource_id
    if state is State.REFERRAL_CREATED:
        linked = apply(MessageKind.REFERRAL_NEW, referral(booked.resource_id), ods, store, now)
        assert linked is not None
        ids["service_request"] = linked.resource_id
    assert get_state(ods, store, now).state is state
    return ids


@pytest.mark.parametrize(("event", "state"), sorted(SEED_TABLE, key=str))
def test_every_cell_from_its_starting_state(event: Event, state: State) -> None:
    store = InMemoryStateStore()
    ids = drive_to(state, store)
    before = get_state(ODS, store, NOON)
    status, after, bars_code, diagnostics = SEED_TABLE[(event, state)]
    kind, bundle = request_for(event, ids.get("appointment"))
    if status == 200:
        result = apply(kind, bundle, ODS, store, NOON)
        assert result is not None
        assert (result.status, result.event, result.state) == (200, event, after)
        assert get_state(ODS, store, NOON).state is after
    else:
        with pytest.raises(BarsError) as caught:
            apply(kind, bundle, ODS, store, NOON)
        err = caught.value
        assert err.status == status
        issue = assert_outcome(err.outcome(), str(bars_code))
        assert issue["diagnostics"].startswith(str(diagnostics))
        assert get_state(ODS, store, NOON) == before, "a refused request changes nothing"


def test_booking_issues_a_fresh_appointment_that_get_returns() -> None:
    store = InMemoryStateStore()
    result = apply(MessageKind.BOOKING_NEW, booking_new(), ODS, store, NOON)
    assert result is not None and result.resource_type == "Appointment"
    assert uuid.UUID(result.resource_id).version == 4
    appointment = read_appointment(result.resource_id, store, NOON)
    assert appointment is not None
    assert (appointment["resourceType"], appointment["id"], appointment["status"]) == (
        "Appointment",
        result.resource_id,
        "booked",
    )
    assert read_service_request(result.resource_id, store, NOON) is None, "an Appointment id is not a ServiceRequest"
    view = get_state(ODS, store, NOON)
    assert (view.state, view.appointment_id, view.service_request_id) == (
        State.APPOINTMENT_BOOKED,
        result.resource_id,
        None,
    )


def test_linked_referral_then_cancels_update_the_statuses_get_returns() -> None:
    store = InMemoryStateStore()
    ids = drive_to(State.REFERRAL_CREATED, store)
    sr = read_service_request(ids["service_request"], store, NOON)
    assert sr is not None and (sr["resourceType"], sr["status"], sr["id"]) == (
        "ServiceRequest",
        "active",
        ids["service_request"],
    )
    cancelled = apply(MessageKind.REFERRAL_CANCEL, referral_cancel(), ODS, store, NOON)
    assert cancelled is not None and cancelled.resource_id == ids["service_request"]
    assert read_service_request(ids["service_request"], store, NOON)["status"] == "revoked"  # type: ignore[index]
    assert read_appointment(ids["appointment"], store, NOON)["status"] == "booked"  # type: ignore[index]
    cancelled = apply(MessageKind.BOOKING_CANCEL, booking_cancel(), ODS, store, NOON)
    assert cancelled is not None and cancelled.resource_id == ids["appointment"]
    assert read_appointment(ids["appointment"], store, NOON)["status"] == "cancelled"  # type: ignore[index]


def test_cancelling_the_booking_under_a_referral_revokes_the_referral_too() -> None:
    store = InMemoryStateStore()
    ids = drive_to(State.REFERRAL_CREATED, store)
    apply(MessageKind.BOOKING_CANCEL, booking_cancel(), ODS, store, NOON)
    assert read_appointment(ids["appointment"], store, NOON)["status"] == "cancelled"  # type: ignore[index]
    assert read_service_request(ids["service_request"], store, NOON)["status"] == "revoked"  # type: ignore[index]
    assert get_state(ODS, store, NOON).state is State.INITIAL


def test_rebook_after_cancel_issues_a_new_id_and_keeps_the_old_one_cancelled() -> None:
    store = InMemoryStateStore()
    first = drive_to(State.APPOINTMENT_BOOKED, store)["appointment"]
    apply(MessageKind.BOOKING_CANCEL, booking_cancel(), ODS, store, NOON)
    again = apply(MessageKind.BOOKING_NEW, booking_new(official=True), ODS, store, NOON)
    assert again is not None and again.resource_id != first
    assert get_state(ODS, store, NOON).appointment_id == again.resource_id
    assert read_appointment(first, store, NOON)["status"] == "cancelled"  # type: ignore[index]
    assert read_appointment(again.resource_id, store, NOON)["status"] == "booked"  # type: ignore[index]
    # A referral linked to the *old* booking is now mis-linked.
    with pytest.raises(BarsError) as caught:
        apply(MessageKind.REFERRAL_NEW, referral(first), ODS, store, NOON)
    assert caught.value.status == 409


def test_relink_after_referral_cancel() -> None:
    store = InMemoryStateStore()
    ids = drive_to(State.REFERRAL_CREATED, store)
    apply(MessageKind.REFERRAL_CANCEL, referral_cancel(), ODS, store, NOON)
    assert get_state(ODS, store, NOON).state is State.APPOINTMENT_BOOKED
    again = apply(MessageKind.REFERRAL_NEW, referral(ids["appointment"]), ODS, store, NOON)
    assert again is not None and again.state is State.REFERRAL_CREATED
    assert again.resource_id != ids["service_request"]
    assert again.appointment_id == ids["appointment"]
    assert read_service_request(ids["service_request"], store, NOON)["status"] == "revoked"  # type: ignore[index]
    assert read_service_request(again.resource_id, store, NOON)["status"] == "active"  # type: ignore[index]


def test_mislinked_diagnostics_explain_the_link() -> None:
    store = InMemoryStateStore()
    booked = drive_to(State.APPOINTMENT_BOOKED, store)["appointment"]
    with pytest.raises(BarsError) as caught:
        apply(MessageKind.REFERRAL_NEW, referral_as_published(), ODS, store, NOON)
    issue = assert_outcome(caught.value.outcome(), "REC_CONFLICT", "conflict")
    assert issue["diagnostics"].startswith("Referral is not linked to the correct booking. ")
    assert booked in issue["diagnostics"]
    with pytest.raises(BarsError) as caught:
        apply(MessageKind.REFERRAL_NEW, referral(None), ODS, store, NOON)
    assert "references no Appointment" in caught.value.issues[0].diagnostics
    assert "9707606312" not in caught.value.issues[0].diagnostics


def test_isolation_between_organisations() -> None:
    store = InMemoryStateStore()
    a = drive_to(State.REFERRAL_CREATED, store, "A1001")
    # B starts from Initial whatever A did, and A's ids mean nothing to B's linkage.
    assert get_state("B2002", store, NOON).state is State.INITIAL
    with pytest.raises(BarsError) as caught:
        apply(MessageKind.REFERRAL_NEW, referral(a["appointment"]), "B2002", store, NOON)
    assert caught.value.status == 400
    b = drive_to(State.APPOINTMENT_BOOKED, store, "B2002")
    reset("A1001", store)
    assert get_state("A1001", store, NOON).state is State.INITIAL
    assert get_state("B2002", store, NOON).state is State.APPOINTMENT_BOOKED
    assert read_appointment(b["appointment"], store, NOON) is not None
    assert read_appointment(a["appointment"], store, NOON) is None


def test_reset_returns_to_initial_and_ids_read_as_not_found() -> None:
    store = InMemoryStateStore()
    ids = drive_to(State.REFERRAL_CREATED, store)
    reset(ODS, store)
    assert get_state(ODS, store, NOON).state is State.INITIAL
    assert read_appointment(ids["appointment"], store, NOON) is None
    assert read_service_request(ids["service_request"], store, NOON) is None
    # ... and stay not found after the organisation books again (a new generation).
    drive_to(State.APPOINTMENT_BOOKED, store)
    assert read_appointment(ids["appointment"], store, NOON) is None
    reset(ODS, store)  # idempotent
    reset(ODS, store)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("booked_at", "last_second", "reset_at"),
    [
        # Ordinary GMT day: reset at 00:00Z.
        (utc(2026, 1, 15, 9, 0), utc(2026, 1, 15, 23, 59, 59), utc(2026, 1, 16, 0, 0)),
        # Ordinary BST day: reset at 23:00Z.
        (utc(2026, 6, 10, 9, 0), utc(2026, 6, 10, 22, 59, 59), utc(2026, 6, 10, 23, 0)),
        # Spring forward day 2026-03-29 (23 hours): the reset is 00:00 BST = 23:00Z.
        (utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 22, 59, 59), utc(2026, 3, 29, 23, 0)),
        # Fall back day 2026-10-25 (25 hours): booked 00:30 BST, reset 00:00 GMT on the 26th.
        (utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 23, 59, 59), utc(2026, 10, 26, 0, 0)),
        # Booked in the evening before the autumn change (BST): reset at 00:00 BST = 23:00Z.
        (utc(2026, 10, 24, 20, 0), utc(2026, 10, 24, 22, 59, 59), utc(2026, 10, 24, 23, 0)),
    ],
)
def test_nightly_reset_at_london_midnight(booked_at: float, last_second: float, reset_at: float) -> None:
    store = InMemoryStateStore()
    ids = drive_to(State.REFERRAL_CREATED, store, now=booked_at)
    view = get_state(ODS, store, booked_at)
    assert datetime.fromisoformat(view.resets_at).timestamp() == reset_at
    assert view.resets_at.endswith("T00:00:00+00:00") or view.resets_at.endswith("T00:00:00+01:00")
    # Still there in the last second of the London day ...
    assert get_state(ODS, store, last_second).state is State.REFERRAL_CREATED
    assert read_appointment(ids["appointment"], store, last_second) is not None
    with pytest.raises(BarsError):
        apply(MessageKind.BOOKING_NEW, booking_new(), ODS, store, last_second)
    # ... gone at midnight, though nothing deleted the record (TTL is lazy).
    assert store.read_state(ODS) is not None
    assert get_state(ODS, store, reset_at).state is State.INITIAL
    assert read_appointment(ids["appointment"], store, reset_at) is None
    assert read_service_request(ids["service_request"], store, reset_at) is None
    with pytest.raises(BarsError) as caught:
        apply(MessageKind.BOOKING_CANCEL, booking_cancel(), ODS, store, reset_at)
    assert caught.value.status == 400
    fresh = apply(MessageKind.BOOKING_NEW, booking_new(), ODS, store, reset_at)
    assert fresh is not None and fresh.state is State.APPOINTMENT_BOOKED
    next_reset = datetime.fromisoformat(get_state(ODS, store, reset_at).resets_at).timestamp()
    assert 23 * 3600 <= next_reset - reset_at <= 25 * 3600, "the new day's state lasts until the next midnight"


def test_an_injected_clock_is_read_per_attempt() -> None:
    store = InMemoryStateStore()
    ticks = iter([NOON, NOON + 1, NOON + 2])
    result = apply(MessageKind.BOOKING_NEW, booking_new(), ODS, store, lambda: next(ticks))
    assert result is not None


def test_kinds_outside_the_scenario_are_left_to_the_responder() -> None:
    store = InMemoryStateStore()
    assert not handles(MessageKind.VALIDATION_NEW)
    assert handles(MessageKind.REFERRAL_NEW)
    assert apply(MessageKind.VALIDATION_NEW, booking_new(), ODS, store, NOON) is None
    assert apply(MessageKind.BOOKING_UPDATE, booking_new(), ODS, store, NOON) is None
    assert store.read_state(ODS) is None


def test_state_view_json_for_the_portal() -> None:
    store = InMemoryStateStore()
    assert get_state(ODS, store, NOON).to_json() == {
        "organisation": ODS,
        "patient": "9707606312",
        "state": "initial",
        "appointment_id": None,
        "service_request_id": None,
        "resets_at": "2026-05-13T00:00:00+01:00",
    }
    ids = drive_to(State.REFERRAL_CREATED, store)
    body = get_state(ODS, store, NOON).to_json()
    assert body["state"] == "referral-created"
    assert (body["appointment_id"], body["service_request_id"]) == (ids["appointment"], ids["service_request"])


def test_with_assigned_id_sets_the_focus_resource_id_on_a_copy() -> None:
    store = InMemoryStateStore()
    bundle = booking_new()
    result = apply(MessageKind.BOOKING_NEW, bundle, ODS, store, NOON)
    assert result is not None
    echoed = with_assigned_id(bundle, result)
    focus = next(e["resource"] for e in echoed["entry"] if e["resource"]["resourceType"] == "Appointment")
    assert focus["id"] == result.resource_id
    assert "id" not in next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Appointment")
    ref = referral(result.resource_id)
    linked = apply(MessageKind.REFERRAL_NEW, ref, ODS, store, NOON)
    assert linked is not None
    sr = next(
        e["resource"]
        for e in with_assigned_id(ref, linked)["entry"]
        if e["resource"]["resourceType"] == "ServiceRequest"
    )
    assert sr["id"] == linked.resource_id


class TestOrganisationHeader:
    def test_decodes_the_ods_code(self) -> None:
        assert organisation_from_header(organisation("y12345")) == "Y12345"

    @pytest.mark.parametrize(
        ("value", "why"),
        [
            (None, "missing"),
            ("", "missing"),
            ("%%%", "not valid base64"),
            (b64json(["x"]), "JSON object"),
            (b64json({"identifier": [{"system": "https://example.org", "value": "X"}]}), "ods-organization-code"),
        ],
    )
    def test_missing_or_undecodable_is_a_400(self, value: str | None, why: str) -> None:
        with pytest.raises(BarsError) as caught:
            organisation_from_header(value)
        assert caught.value.status == 400
        issue = assert_outcome(caught.value.outcome(), "REC_BAD_REQUEST")
        assert why in issue["diagnostics"]
        assert "NHSD-End-User-Organisation" in issue["diagnostics"]
        assert issue["location"] == ["http.NHSD-End-User-Organisation"]


class RacingStore(InMemoryStateStore):
    """Lets a rival request run between this request's read and its write, ``rivals`` times."""

    def __init__(self, rival: Callable[[StateStore], object]) -> None:
        super().__init__()
        self.rival = rival
        self.rivals = 0

    def commit(self, expected: StateRecord | None, change: Commit, now: float) -> bool:
        if self.rivals:
            self.rivals -= 1
            self.rival(Unhooked(self))
        return super().commit(expected, change, now)


class Unhooked:
    """A RacingStore's storage without its rival hook (what the rival request uses)."""

    def __init__(self, store: InMemoryStateStore) -> None:
        self._store = store

    def read_state(self, ods: str) -> StateRecord | None:
        return self._store.read_state(ods)

    def commit(self, expected: StateRecord | None, change: Commit, now: float) -> bool:
        return InMemoryStateStore.commit(self._store, expected, change, now)

    def read_resource(self, resource_id: str) -> ResourceRecord | None:
        return self._store.read_resource(resource_id)

    def delete_state(self, ods: str) -> None:
        self._store.delete_state(ods)


def test_a_lost_race_is_re_evaluated_so_the_loser_gets_the_right_409() -> None:
    store = RacingStore(lambda rival: apply(MessageKind.BOOKING_NEW, booking_new(), ODS, rival, NOON))
    store.rivals = 1
    with pytest.raises(BarsError) as caught:
        apply(MessageKind.BOOKING_NEW, booking_new(), ODS, store, NOON)
    assert caught.value.status == 409 and caught.value.issues[0].diagnostics == "Booking already exists"
    assert store.lost_races == 1
    assert get_state(ODS, store, NOON).state is State.APPOINTMENT_BOOKED


def test_a_lost_race_can_turn_into_a_success() -> None:
    """A cancel races a rival cancel-then-rebook: re-evaluated, it cancels the new booking."""

    def rival(other: StateStore) -> None:
        apply(MessageKind.BOOKING_CANCEL, booking_cancel(), ODS, other, NOON)
        apply(MessageKind.BOOKING_NEW, booking_new(), ODS, other, NOON)

    store = RacingStore(rival)
    first = drive_to(State.APPOINTMENT_BOOKED, store)["appointment"]
    store.rivals = 1
    result = apply(MessageKind.BOOKING_CANCEL, booking_cancel(), ODS, store, NOON)
    assert result is not None and result.resource_id != first
    assert store.lost_races == 1
    assert read_appointment(first, store, NOON)["status"] == "cancelled"  # type: ignore[index]
    assert read_appointment(result.resource_id, store, NOON)["status"] == "cancelled"  # type: ignore[index]
    assert get_state(ODS, store, NOON).state is State.INITIAL


def test_a_livelock_ends_in_a_503_not_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    import tkw.stateful.service as service

    monkeypatch.setattr(service, "_sleep", lambda _seconds: None)

    def rebook(rival: StateStore) -> None:  # every time: reset and book again (a new version)
        rival.delete_state(ODS)
        apply(MessageKind.BOOKING_NEW, booking_new(), ODS, rival, NOON)

    store = RacingStore(rebook)
    drive_to(State.APPOINTMENT_BOOKED, store)
    store.rivals = 10**6
    with pytest.raises(BarsError) as caught:
        apply(MessageKind.BOOKING_CANCEL, booking_cancel(), ODS, store, NOON)
    assert caught.value.status == 503
    assert assert_outcome(caught.value.outcome(), "REC_SERVICE_UNAVAILABLE", "transient")
    assert store.lost_races == service.MAX_ATTEMPTS


def test_parallel_bookings_on_the_in_memory_store() -> None:
    store = InMemoryStateStore()
    barrier = threading.Barrier(24)
    statuses: list[int] = []
    lock = threading.Lock()

    def book() -> None:
        barrier.wait()
        try:
            apply(MessageKind.BOOKING_NEW, booking_new(), ODS, store, NOON)
            status = 200
        except BarsError as err:
            status = err.status
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=book) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [409] * 23
