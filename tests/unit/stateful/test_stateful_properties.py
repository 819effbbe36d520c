"""Property tests: no sequence of events reaches an undefined state, and the service agrees with the
pure machine (a model) whatever the sequence, clock jumps, resets and a second organisation do."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from unit.stateful.stateful_bundles import (
    booking_cancel,
    booking_new,
    referral,
    referral_as_published,
    referral_cancel,
)

from tkw.fhir.outcome import BarsError
from tkw.message_kinds import MessageKind
from tkw.stateful import (
    InMemoryStateStore,
    State,
    apply,
    get_state,
    read_appointment,
    read_service_request,
    reset,
)
from tkw.stateful.clock import next_london_midnight
from tkw.stateful.machine import TABLE, Event, transition

# --- the pure machine ---------------------------------------------------------------------------


@given(st.lists(st.sampled_from(list(Event)), max_size=60))
def test_no_event_sequence_leaves_the_three_states(events: list[Event]) -> None:
    state = State.INITIAL
    for event in events:
        outcome = transition(state, event)  # defined for every (event, state): never a KeyError
        assert outcome.status in {200, 400, 409}
        assert outcome.next_state in State
        assert (outcome.next_state is state) or outcome.ok
        state = outcome.next_state


def test_every_state_is_reachable_and_none_is_a_dead_end() -> None:
    reachable, frontier = {State.INITIAL}, [State.INITIAL]
    while frontier:
        state = frontier.pop()
        for event in Event:
            after = transition(state, event).next_state
            if after not in reachable:
                reachable.add(after)
                frontier.append(after)
    assert reachable == set(State)
    for state in State:  # from every state some event leads back to Initial (directly or via Booked)
        assert any(TABLE[(e, state)].ok for e in Event)


# --- the service against a model ------------------------------------------------------------------

START = datetime(2026, 3, 27, 21, 0, tzinfo=UTC).timestamp()  # two days before the spring change

ACTIONS = (
    "book",
    "book-official",
    "cancel-booking",
    "referral-linked",
    "referral-as-published",
    "referral-no-appointment",
    "referral-to-old-booking",
    "cancel-referral",
    "reset",
    "wait",
    "other-org-book",
)


@dataclass
class Model:
    state: State = State.INITIAL
    appointment: str | None = None
    service_request: str | None = None
    expires_at: float = 0.0
    # ids issued in the current generation -> expected status
    issued: dict[str, str] = field(default_factory=dict)
    forgotten: set[str] = field(default_factory=set)
    old_bookings: list[str] = field(default_factory=list)

    def forget(self) -> None:
        self.forgotten |= set(self.issued)
        self.issued.clear()
        self.state, self.appointment, self.service_request = State.INITIAL, None, None


# Built once: apply() never mutates a request bundle (checked below), so steps can share them.
FIXED = {
    "book": (MessageKind.BOOKING_NEW, booking_new(), Event.MAKE_BOOKING),
    "book-official": (MessageKind.BOOKING_NEW, booking_new(official=True), Event.MAKE_BOOKING),
    "cancel-booking": (MessageKind.BOOKING_CANCEL, booking_cancel(), Event.CANCEL_BOOKING),
    "cancel-referral": (MessageKind.REFERRAL_CANCEL, referral_cancel(), Event.CANCEL_REFERRAL),
    "referral-no-appointment": (MessageKind.REFERRAL_NEW, referral(None), Event.CREATE_MISLINKED_REFERRAL),
    "referral-as-published": (MessageKind.REFERRAL_NEW, referral_as_published(), Event.CREATE_MISLINKED_REFERRAL),
}
PRISTINE = copy.deepcopy(FIXED)


def _request(action: str, model: Model) -> tuple[MessageKind, dict[str, Any], Event]:
    if action == "referral-linked" and model.appointment:
        return MessageKind.REFERRAL_NEW, referral(model.appointment), Event.CREATE_LINKED_REFERRAL
    if action == "referral-to-old-booking" and model.old_bookings:
        return MessageKind.REFERRAL_NEW, referral(model.old_bookings[-1]), Event.CREATE_MISLINKED_REFERRAL
    return FIXED.get(action, FIXED["referral-as-published"])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(ACTIONS), st.integers(min_value=0, max_value=30 * 3600)),
        max_size=40,
    )
)
def test_the_service_follows_the_table_for_any_sequence(steps: list[tuple[str, int]]) -> None:
    store, model, now = InMemoryStateStore(), Model(), START
    for action, wait in steps:
        if model.expires_at and now >= model.expires_at:  # the nightly reset
            model.forget()
            model.expires_at = 0.0
        if action == "wait":
            now += wait
            continue
        if action == "reset":
            reset("A1001", store)
            model.forget()
        elif action == "other-org-book":
            try:
                apply(MessageKind.BOOKING_NEW, booking_new(), "B2002", store, now)
            except BarsError as err:
                assert err.status == 409
        else:
            kind, bundle, event = _request(action, model)
            expected = transition(model.state, event)
            try:
                result = apply(kind, bundle, "A1001", store, now)
                assert result is not None
                status, after = 200, result.state
            except BarsError as err:
                status, after, result = err.status, model.state, None
                assert err.issues[0].diagnostics.startswith(str(expected.diagnostics))
            assert (status, after) == (expected.status, expected.next_state), (action, model.state)
            if result is not None:
                _advance(model, event, result.resource_id)
                model.expires_at = next_london_midnight(now)
        _check(store, model, now)
    assert FIXED == PRISTINE, "apply() must not mutate the request bundle"


def _advance(model: Model, event: Event, resource_id: str) -> None:
    if event is Event.MAKE_BOOKING:
        model.appointment = resource_id
        model.issued[resource_id] = "booked"
        model.state = State.APPOINTMENT_BOOKED
    elif event is Event.CANCEL_BOOKING:
        assert resource_id == model.appointment
        model.issued[resource_id] = "cancelled"
        model.old_bookings.append(resource_id)
        if model.service_request:
            model.issued[model.service_request] = "revoked"
        model.state, model.appointment, model.service_request = State.INITIAL, None, None
    elif event is Event.CREATE_LINKED_REFERRAL:
        model.service_request = resource_id
        model.issued[resource_id] = "active"
        model.state = State.REFERRAL_CREATED
    elif event is Event.CANCEL_REFERRAL:
        assert resource_id == model.service_request
        model.issued[resource_id] = "revoked"
        model.service_request = None
        model.state = State.APPOINTMENT_BOOKED


def _check(store: InMemoryStateStore, model: Model, now: float) -> None:
    view = get_state("A1001", store, now)
    assert view.state in State
    assert (view.state, view.appointment_id, view.service_request_id) == (
        model.state,
        model.appointment,
        model.service_request,
    )
    # The state's invariants: which ids exist in which state.
    assert (view.appointment_id is None) == (view.state is State.INITIAL)
    assert (view.service_request_id is not None) == (view.state is State.REFERRAL_CREATED)
    for resource_id, status in model.issued.items():
        found = read_appointment(resource_id, store, now) or read_service_request(resource_id, store, now)
        assert found is not None and found["status"] == status
    for resource_id in model.forgotten - set(model.issued):
        assert read_appointment(resource_id, store, now) is None
        assert read_service_request(resource_id, store, now) is None
