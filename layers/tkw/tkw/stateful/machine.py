"""The TKW 111-to-ED stateful scenario as a state machine whose transition table is data.

The table is the seed's "State Transition Table" cell for cell: a row per event, a column per
state before, each cell an HTTP status plus (on success) the state after or (on failure) the BaRS
code, FHIR issue code and diagnostics TKW answers with. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple


class State(StrEnum):
    INITIAL = "initial"
    APPOINTMENT_BOOKED = "appointment-booked"
    REFERRAL_CREATED = "referral-created"


class Event(StrEnum):
    MAKE_BOOKING = "make-booking"
    CANCEL_BOOKING = "cancel-booking"
    CREATE_LINKED_REFERRAL = "create-linked-referral"
    CREATE_MISLINKED_REFERRAL = "create-mislinked-referral"
    CANCEL_REFERRAL = "cancel-referral"


# The seed's wording (its stray double spaces, as in "Referral  already exists", normalised).
BOOKING_DOES_NOT_EXIST = "The booking this request relates to does not exist"
BOOKING_ALREADY_EXISTS = "Booking already exists"
REFERRAL_ALREADY_EXISTS = "Referral already exists"
REFERRAL_NOT_LINKED = "Referral is not linked to the correct booking"
REFERRAL_DOES_NOT_EXIST = "No Referral - The referral this request relates to does not exist"


class Outcome(NamedTuple):
    """One cell: success (status 200, ``next_state``) or an error (status, codes, diagnostics)."""

    status: int
    next_state: State  # the state after; on an error, the state before (errors change nothing)
    bars_code: str | None = None
    issue_code: str | None = None
    diagnostics: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


def _ok(next_state: State) -> Outcome:
    return Outcome(200, next_state)


def _bad_request(state: State, diagnostics: str) -> Outcome:
    return Outcome(400, state, "REC_BAD_REQUEST", "invariant", diagnostics)


def _conflict(state: State, diagnostics: str, issue_code: str = "duplicate") -> Outcome:
    return Outcome(409, state, "REC_CONFLICT", issue_code, diagnostics)


_I, _B, _R = State.INITIAL, State.APPOINTMENT_BOOKED, State.REFERRAL_CREATED

TABLE: Mapping[tuple[Event, State], Outcome] = MappingProxyType(
    {
        # Make a Booking
        (Event.MAKE_BOOKING, _I): _ok(_B),
        (Event.MAKE_BOOKING, _B): _conflict(_B, BOOKING_ALREADY_EXISTS),
        (Event.MAKE_BOOKING, _R): _conflict(_R, BOOKING_ALREADY_EXISTS),
        # Cancel a Booking
        (Event.CANCEL_BOOKING, _I): _bad_request(_I, BOOKING_DOES_NOT_EXIST),
        (Event.CANCEL_BOOKING, _B): _ok(_I),
        (Event.CANCEL_BOOKING, _R): _ok(_I),
        # Create Linked Referral Request
        (Event.CREATE_LINKED_REFERRAL, _I): _bad_request(_I, BOOKING_DOES_NOT_EXIST),
        (Event.CREATE_LINKED_REFERRAL, _B): _ok(_R),
        (Event.CREATE_LINKED_REFERRAL, _R): _conflict(_R, REFERRAL_ALREADY_EXISTS),
        # Create Mis-linked Referral Request
        (Event.CREATE_MISLINKED_REFERRAL, _I): _bad_request(_I, BOOKING_DOES_NOT_EXIST),
        (Event.CREATE_MISLINKED_REFERRAL, _B): _conflict(_B, REFERRAL_NOT_LINKED, "conflict"),
        (Event.CREATE_MISLINKED_REFERRAL, _R): _conflict(_R, REFERRAL_ALREADY_EXISTS),
        # Cancel Referral Request
        (Event.CANCEL_REFERRAL, _I): _bad_request(_I, BOOKING_DOES_NOT_EXIST),
        (Event.CANCEL_REFERRAL, _B): _bad_request(_B, REFERRAL_DOES_NOT_EXIST),
        (Event.CANCEL_REFERRAL, _R): _ok(_B),
    }
)

# The table is total: every event is defined in every state (checked at import, and by the tests).
_missing = [(e, s) for e in Event for s in State if (e, s) not in TABLE]
if _missing:  # pragma: no cover - a defect in the table above
    raise RuntimeError(f"stateful transition table is missing cells: {_missing}")


def transition(state: State, event: Event) -> Outcome:
    """The table's cell for ``event`` in ``state``."""
    return TABLE[(event, state)]
