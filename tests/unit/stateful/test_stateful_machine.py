"""The transition table, cell for cell against the seed's State Transition Table."""

from __future__ import annotations

import pytest

from tkw.stateful.machine import TABLE, Event, State, transition

INIT, BOOKED, REFERRED = State.INITIAL, State.APPOINTMENT_BOOKED, State.REFERRAL_CREATED
NO_BOOKING = "The booking this request relates to does not exist"
NOT_LINKED = "Referral is not linked to the correct booking"

# (event, state before) -> (status, state after, BaRS code, diagnostics); written out independently.
SEED_TABLE = {
    (Event.MAKE_BOOKING, INIT): (200, BOOKED, None, None),
    (Event.MAKE_BOOKING, BOOKED): (409, BOOKED, "REC_CONFLICT", "Booking already exists"),
    (Event.MAKE_BOOKING, REFERRED): (409, REFERRED, "REC_CONFLICT", "Booking already exists"),
    (Event.CANCEL_BOOKING, INIT): (400, INIT, "REC_BAD_REQUEST", NO_BOOKING),
    (Event.CANCEL_BOOKING, BOOKED): (200, INIT, None, None),
    (Event.CANCEL_BOOKING, REFERRED): (200, INIT, None, None),
    (Event.CREATE_LINKED_REFERRAL, INIT): (400, INIT, "REC_BAD_REQUEST", NO_BOOKING),
    (Event.CREATE_LINKED_REFERRAL, BOOKED): (200, REFERRED, None, None),
    (Event.CREATE_LINKED_REFERRAL, REFERRED): (409, REFERRED, "REC_CONFLICT", "Referral already exists"),
    (Event.CREATE_MISLINKED_REFERRAL, INIT): (400, INIT, "REC_BAD_REQUEST", NO_BOOKING),
    (Event.CREATE_MISLINKED_REFERRAL, BOOKED): (409, BOOKED, "REC_CONFLICT", NOT_LINKED),
    (Event.CREATE_MISLINKED_REFERRAL, REFERRED): (409, REFERRED, "REC_CONFLICT", "Referral already exists"),
    (Event.CANCEL_REFERRAL, INIT): (400, INIT, "REC_BAD_REQUEST", NO_BOOKING),
    (Event.CANCEL_REFERRAL, BOOKED): (
        400,
        BOOKED,
        "REC_BAD_REQUEST",
        "No Referral - The referral this request relates to does not exist",
    ),
    (Event.CANCEL_REFERRAL, REFERRED): (200, BOOKED, None, None),
}


def test_the_table_is_total_and_has_exactly_the_seed_cells() -> None:
    assert len(TABLE) == len(Event) * len(State) == 15
    assert set(TABLE) == set(SEED_TABLE)


@pytest.mark.parametrize(("event", "state"), sorted(SEED_TABLE, key=str))
def test_each_cell(event: Event, state: State) -> None:
    status, after, bars_code, diagnostics = SEED_TABLE[(event, state)]
    outcome = transition(state, event)
    assert (outcome.status, outcome.next_state, outcome.bars_code, outcome.diagnostics) == (
        status,
        after,
        bars_code,
        diagnostics,
    )
    assert outcome.ok is (status == 200)
    if not outcome.ok:
        assert outcome.next_state is state, "an error changes nothing"
        assert outcome.issue_code in {"invariant", "duplicate", "conflict"}


def test_the_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        TABLE[(Event.MAKE_BOOKING, INIT)] = TABLE[(Event.MAKE_BOOKING, BOOKED)]  # type: ignore[index]


def test_state_values_are_what_the_portal_shows() -> None:
    assert [s.value for s in State] == ["initial", "appointment-booked", "referral-created"]
