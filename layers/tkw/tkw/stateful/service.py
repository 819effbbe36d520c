"""The stateful 111-to-ED scenario: apply a message to an organisation's state, race-safely.

Each request reads the organisation's state, looks its event up in the transition table, and, on
a success cell, commits the new state *conditionally on the state it read*. If another request
changed the state in between, the commit is refused and this one starts again from a fresh read,
so concurrent requests are answered as if they had arrived one after another (24 parallel
bookings: one 200, 23 x 409 "Booking already exists").

State ends at the next 00:00 Europe/London (the item's TTL); since TTL deletion is lazy, every
read treats ``expires_at <= now`` as "no state". Diagnostics and log lines carry no patient data.
"""

from __future__ import annotations

import copy
import json
import random
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from aws_lambda_powertools import Logger

from tkw.encoded_headers import HeaderError, decode_end_user_organisation
from tkw.fhir.outcome import BarsError
from tkw.message_kinds import MessageKind
from tkw.stateful.clock import london_iso, next_london_midnight
from tkw.stateful.events import STATEFUL_KINDS, StatefulEvent, find_resources, stateful_event
from tkw.stateful.machine import REFERRAL_NOT_LINKED, Event, Outcome, State, transition
from tkw.stateful.store import Commit, ResourceRecord, ResourceType, StateRecord, StateStore, StatusChange

logger = Logger(child=True)

# The one patient the stateful scenario applies to (the seed's "Stateful Scenarios").
STATEFUL_NHS_NUMBER = "9707606312"
ORGANISATION_HEADER = "NHSD-End-User-Organisation"

# A lost race costs one re-read; this bound only stops a pathological livelock.
MAX_ATTEMPTS = 25
_sleep = time.sleep  # the back-off between retries (tests replace it)
# Resource snapshots larger than this (JSON characters) are stored in minimal form.
MAX_SNAPSHOT_CHARS = 64_000

BOOKED, CANCELLED = "booked", "cancelled"  # Appointment.status
ACTIVE, REVOKED = "active", "revoked"  # ServiceRequest.status


class StatefulResult(NamedTuple):
    """A success cell: what the responder echoes (status 200 and the id of the resource concerned)."""

    status: int
    event: Event
    state: State  # the state after the transition
    resource_type: ResourceType  # the message's focus: Appointment (booking) or ServiceRequest
    resource_id: str  # the id assigned (new booking/referral) or acted on (cancel)
    appointment_id: str | None  # the organisation's booking after the transition, if any
    service_request_id: str | None  # the organisation's referral after the transition, if any


class StateView(NamedTuple):
    """``GET /tkw/state``: the organisation's current state, for the portal."""

    organisation: str
    state: State
    resets_at: str  # ISO 8601, Europe/London
    patient: str = STATEFUL_NHS_NUMBER
    appointment_id: str | None = None
    service_request_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {**self._asdict(), "state": self.state.value}


def organisation_from_header(value: str | None) -> str:
    """The ODS code state is kept under, from the NHSD-End-User-Organisation header value.

    Raises 400 REC_BAD_REQUEST when the header is missing or undecodable.
    """
    if value is None or not value.strip():
        raise BarsError.of(
            400,
            "REC_BAD_REQUEST",
            "required",
            f"The stateful 111-to-ED scenario keeps state per end-user organisation, but the {ORGANISATION_HEADER} "
            "header is missing. Send it: base64 of an Organization with an identifier in system "
            "https://fhir.nhs.uk/Id/ods-organization-code.",
            header=ORGANISATION_HEADER,
        )
    try:
        return decode_end_user_organisation(value)
    except HeaderError as err:
        raise BarsError.of(
            400,
            "REC_BAD_REQUEST",
            "invalid" if err.stage != "structure" else "value",
            f"The stateful 111-to-ED scenario keeps state per end-user organisation, but {err}",
            header=ORGANISATION_HEADER,
        ) from None


def handles(kind: MessageKind) -> bool:
    """Whether a message of this kind (for the stateful patient) goes through :func:`apply`."""
    return kind in STATEFUL_KINDS


def apply(
    kind: MessageKind,
    bundle: Mapping[str, Any],
    ods: str,
    store: StateStore,
    now: float | Callable[[], float],
) -> StatefulResult | None:
    """Apply a ``$process-message`` for the stateful patient to organisation ``ods``'s state.

    Returns the success (status 200 and the resource id to put in the echoed bundle), or None when
    the kind is not one of the scenario's events (answer it as usual). Raises :class:`BarsError`
    with the table's 400/409 otherwise. ``now`` is epoch seconds or a clock (read once per attempt).
    """
    if kind not in STATEFUL_KINDS:
        return None
    clock = now if callable(now) else (lambda: now)
    for attempt in range(MAX_ATTEMPTS):
        at = clock()
        current = _live_state(store.read_state(ods), at)
        state = current.state if current else State.INITIAL
        event = stateful_event(kind, bundle, current.appointment_id if current else None)
        if event is None:
            return None
        outcome = transition(state, event.event)
        if not outcome.ok:
            logger.info(
                "Stateful transition refused",
                extra={"ods": ods, "event": str(event.event), "state": str(state), "status": outcome.status},
            )
            raise _refusal(outcome, event)
        commit, result = _PLANS[event.event](_Plan(ods, current, outcome.next_state, bundle, at))
        if store.commit(current, commit, at):
            logger.info(
                "Stateful transition",
                extra={"ods": ods, "event": str(event.event), "from": str(state), "to": str(result.state)},
            )
            return result
        logger.debug("Stateful transition lost a race; re-evaluating", extra={"ods": ods, "attempt": attempt + 1})
        if attempt:  # the first retry is immediate: it usually finds the winner's state
            _sleep(random.uniform(0, min(0.05, 0.002 * 2**attempt)))
    raise BarsError.of(
        503,
        "REC_SERVICE_UNAVAILABLE",
        "transient",
        "The stateful 111-to-ED state for this organisation kept changing under concurrent requests; try again.",
    )


def read_appointment(resource_id: str, store: StateStore, now: float) -> dict[str, Any] | None:
    """``GET /Appointment/{id}`` for a stateful booking: the Appointment (booked/cancelled) or None."""
    return _read(resource_id, "Appointment", store, now)


def read_service_request(resource_id: str, store: StateStore, now: float) -> dict[str, Any] | None:
    """``GET /ServiceRequest/{id}`` for a stateful referral: the ServiceRequest (active/revoked) or None."""
    return _read(resource_id, "ServiceRequest", store, now)


def get_state(ods: str, store: StateStore, now: float) -> StateView:
    current = _live_state(store.read_state(ods), now)
    if current is None:
        return StateView(organisation=ods, state=State.INITIAL, resets_at=london_iso(next_london_midnight(now)))
    return StateView(
        organisation=ods,
        state=current.state,
        appointment_id=current.appointment_id,
        service_request_id=current.service_request_id,
        resets_at=london_iso(current.expires_at),
    )


def reset(ods: str, store: StateStore) -> None:
    """``DELETE /tkw/state``: the organisation is back in the initial state; its ids read as 404."""
    store.delete_state(ods)
    logger.info("Stateful state reset", extra={"ods": ods})


def with_assigned_id(bundle: Mapping[str, Any], result: StatefulResult) -> dict[str, Any]:
    """A copy of ``bundle`` whose focus resource (Appointment / ServiceRequest) has ``result``'s id."""
    echoed = copy.deepcopy(dict(bundle))
    for resource in find_resources(echoed, result.resource_type)[:1]:
        resource["id"] = result.resource_id
    return echoed


# ---------------------------------------------------------------------------------------------
# Internals


def _live_state(record: StateRecord | None, now: float) -> StateRecord | None:
    return record if record is not None and record.live(now) else None


def _read(resource_id: str, resource_type: ResourceType, store: StateStore, now: float) -> dict[str, Any] | None:
    record = store.read_resource(resource_id)
    if record is None or record.resource_type != resource_type or not record.live(now):
        return None
    owner = _live_state(store.read_state(record.ods), now)
    if owner is None or owner.generation != record.generation:  # reset (or expired) since it was issued
        return None
    resource = copy.deepcopy(record.resource) or {"resourceType": resource_type}
    resource["id"] = resource_id
    resource["status"] = record.status
    return resource


def _refusal(outcome: Outcome, event: StatefulEvent) -> BarsError:
    diagnostics = outcome.diagnostics or "The request is not allowed in the current state"
    if event.note and diagnostics == REFERRAL_NOT_LINKED:
        diagnostics = f"{diagnostics}. {event.note}"
    return BarsError.of(
        outcome.status, outcome.bars_code or "REC_BAD_REQUEST", outcome.issue_code or "invalid", diagnostics
    )


class _Plan(NamedTuple):
    ods: str
    current: StateRecord | None
    next_state: State
    bundle: Mapping[str, Any]
    now: float

    def state(self, appointment_id: str | None, service_request_id: str | None) -> StateRecord:
        """The next state record: same generation while live (a new one after a reset/expiry)."""
        return StateRecord(
            ods=self.ods,
            state=self.next_state,
            generation=self.current.generation if self.current else _new_id(),
            version=_new_id(),
            expires_at=next_london_midnight(self.now),
            appointment_id=appointment_id,
            service_request_id=service_request_id,
        )

    @property
    def appointment_id(self) -> str:
        assert self.current is not None and self.current.appointment_id is not None
        return self.current.appointment_id

    @property
    def service_request_id(self) -> str:
        assert self.current is not None and self.current.service_request_id is not None
        return self.current.service_request_id

    def resource(self, resource_type: ResourceType, resource_id: str, status: str, generation: str) -> ResourceRecord:
        return ResourceRecord(
            resource_id=resource_id,
            resource_type=resource_type,
            ods=self.ods,
            generation=generation,
            status=status,
            expires_at=next_london_midnight(self.now),
            resource=_snapshot(self.bundle, resource_type),
        )


def _make_booking(plan: _Plan) -> tuple[Commit, StatefulResult]:
    appointment_id = _new_id()
    state = plan.state(appointment_id, None)
    commit = Commit(state, new_resources=(plan.resource("Appointment", appointment_id, BOOKED, state.generation),))
    return commit, _result(Event.MAKE_BOOKING, state, "Appointment", appointment_id)


def _cancel_booking(plan: _Plan) -> tuple[Commit, StatefulResult]:
    # Cancelling the booking also ends a referral linked to it: the state is back to Initial.
    appointment_id = plan.appointment_id
    changes = [StatusChange(appointment_id, CANCELLED)]
    if plan.current is not None and plan.current.service_request_id:
        changes.append(StatusChange(plan.current.service_request_id, REVOKED))
    state = plan.state(None, None)
    return Commit(state, status_changes=tuple(changes)), _result(
        Event.CANCEL_BOOKING, state, "Appointment", appointment_id
    )


def _create_linked_referral(plan: _Plan) -> tuple[Commit, StatefulResult]:
    service_request_id = _new_id()
    state = plan.state(plan.appointment_id, service_request_id)
    commit = Commit(
        state, new_resources=(plan.resource("ServiceRequest", service_request_id, ACTIVE, state.generation),)
    )
    return commit, _result(Event.CREATE_LINKED_REFERRAL, state, "ServiceRequest", service_request_id)


def _cancel_referral(plan: _Plan) -> tuple[Commit, StatefulResult]:
    service_request_id = plan.service_request_id
    state = plan.state(plan.appointment_id, None)
    commit = Commit(state, status_changes=(StatusChange(service_request_id, REVOKED),))
    return commit, _result(Event.CANCEL_REFERRAL, state, "ServiceRequest", service_request_id)


def _unreachable(plan: _Plan) -> tuple[Commit, StatefulResult]:  # pragma: no cover - no success cell
    raise AssertionError("the transition table has no success cell for a mis-linked referral")


# What each success cell writes, by event (the table decides whether it is a success).
_PLANS: Mapping[Event, Callable[[_Plan], tuple[Commit, StatefulResult]]] = {
    Event.MAKE_BOOKING: _make_booking,
    Event.CANCEL_BOOKING: _cancel_booking,
    Event.CREATE_LINKED_REFERRAL: _create_linked_referral,
    Event.CREATE_MISLINKED_REFERRAL: _unreachable,
    Event.CANCEL_REFERRAL: _cancel_referral,
}


def _result(event: Event, state: StateRecord, resource_type: ResourceType, resource_id: str) -> StatefulResult:
    return StatefulResult(
        status=200,
        event=event,
        state=state.state,
        resource_type=resource_type,
        resource_id=resource_id,
        appointment_id=state.appointment_id,
        service_request_id=state.service_request_id,
    )


def _snapshot(bundle: Mapping[str, Any], resource_type: ResourceType) -> dict[str, Any]:
    """The request's focus resource of that type, as GET will serve it (id and status set on read)."""
    found = find_resources(bundle, resource_type)
    resource = copy.deepcopy(found[0]) if found else {"resourceType": resource_type}
    if len(json.dumps(resource, separators=(",", ":"))) > MAX_SNAPSHOT_CHARS:
        resource = {k: resource[k] for k in ("resourceType", "meta") if k in resource}
    return resource


def _new_id() -> str:
    return str(uuid.uuid4())
