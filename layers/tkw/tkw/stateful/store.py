"""The state port: what the stateful service needs from storage, and an in-memory implementation.

Storage model (the DynamoDB adapter in ``tkw.adapters.state_store`` maps it onto the one table):

* one **state record** per organisation (and the stateful patient): the machine state, the ids
  of the live booking / referral, a ``generation`` and a ``version``;
* one **resource record** per Appointment / ServiceRequest issued, found by its id, holding the
  organisation, the generation it was issued in, its current status and a snapshot of the resource.

Race safety: :meth:`StateStore.commit` writes a new state record *only if* the stored one is still
the one the caller read (same ``version``; or, when the caller read nothing, none is stored or the
stored one has expired), atomically with the resource changes. A lost race returns ``False`` and
the caller re-reads and re-evaluates the transition table.

Resets: a reset deletes the state record. A resource is visible only while its organisation's
live state record has the resource's generation, so a reset hides every resource issued before it
without having to find them (and the nightly TTL deletes them anyway).
"""

from __future__ import annotations

import copy
import threading
from typing import Any, Literal, NamedTuple, Protocol

from tkw.stateful.machine import State

ResourceType = Literal["Appointment", "ServiceRequest"]


class StateRecord(NamedTuple):
    ods: str
    state: State
    generation: str  # fixed from the first write after a reset/expiry until the next one
    version: str  # a fresh UUID4 on every write: the optimistic-lock token (no ABA across resets)
    expires_at: int  # epoch seconds: the next 00:00 Europe/London when written
    appointment_id: str | None = None
    service_request_id: str | None = None

    def live(self, now: float) -> bool:
        return self.expires_at > now


class ResourceRecord(NamedTuple):
    resource_id: str
    resource_type: ResourceType
    ods: str
    generation: str
    status: str  # Appointment: booked | cancelled; ServiceRequest: active | revoked
    expires_at: int
    resource: dict[str, Any]  # snapshot from the request

    def live(self, now: float) -> bool:
        return self.expires_at > now


class StatusChange(NamedTuple):
    resource_id: str
    status: str


class Commit(NamedTuple):
    """A transition's writes, applied all-or-nothing."""

    state: StateRecord
    new_resources: tuple[ResourceRecord, ...] = ()
    status_changes: tuple[StatusChange, ...] = ()


class StateStore(Protocol):
    def read_state(self, ods: str) -> StateRecord | None:
        """The stored state record (strongly consistent), expired or not; None when there is none."""
        ...

    def commit(self, expected: StateRecord | None, change: Commit, now: float) -> bool:
        """Apply ``change`` iff the stored state record is still ``expected``.

        ``expected`` is the live record the caller read, or None when it read none (absent or
        expired at ``now``). Returns False, having written nothing, when another writer got there
        first.
        """
        ...

    def read_resource(self, resource_id: str) -> ResourceRecord | None:
        """The resource record (strongly consistent), expired or not; None when there is none."""
        ...

    def delete_state(self, ods: str) -> None:
        """Forget the organisation's state at once (its resources become invisible)."""
        ...


class InMemoryStateStore:
    """A thread-safe :class:`StateStore` in a dict, with the same conditional semantics."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, StateRecord] = {}
        self._resources: dict[str, ResourceRecord] = {}
        self.lost_races = 0  # commits refused because the state had moved on (for tests)

    def read_state(self, ods: str) -> StateRecord | None:
        with self._lock:
            return self._states.get(ods)

    def commit(self, expected: StateRecord | None, change: Commit, now: float) -> bool:
        ods = change.state.ods
        with self._lock:
            stored = self._states.get(ods)
            if expected is None:
                admissible = stored is None or not stored.live(now)
            else:
                admissible = stored is not None and stored.version == expected.version
            if not admissible or any(r.resource_id in self._resources for r in change.new_resources):
                self.lost_races += 1
                return False
            self._states[ods] = change.state
            for record in change.new_resources:
                self._resources[record.resource_id] = record._replace(resource=copy.deepcopy(record.resource))
            for status_change in change.status_changes:
                found = self._resources.get(status_change.resource_id)
                if found is not None:
                    self._resources[status_change.resource_id] = found._replace(status=status_change.status)
            return True

    def read_resource(self, resource_id: str) -> ResourceRecord | None:
        with self._lock:
            found = self._resources.get(resource_id)
            return None if found is None else found._replace(resource=copy.deepcopy(found.resource))

    def delete_state(self, ods: str) -> None:
        with self._lock:
            self._states.pop(ods, None)
