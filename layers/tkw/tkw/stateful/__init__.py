"""The stateful 111-to-ED scenario (patient 9707606312, state per end-user organisation).

Pure domain: the machine (transition table as data), event detection, the nightly-reset clock,
the storage port and the service the answer calls. AWS lives in ``tkw.adapters.state_store``.
"""

from tkw.stateful.machine import Event, Outcome, State, transition
from tkw.stateful.service import (
    STATEFUL_NHS_NUMBER,
    StatefulResult,
    StateView,
    apply,
    get_state,
    handles,
    organisation_from_header,
    read_appointment,
    read_service_request,
    reset,
    with_assigned_id,
)
from tkw.stateful.store import InMemoryStateStore, StateStore

__all__ = [
    "STATEFUL_NHS_NUMBER",
    "Event",
    "InMemoryStateStore",
    "Outcome",
    "State",
    "StateStore",
    "StateView",
    "StatefulResult",
    "apply",
    "get_state",
    "handles",
    "organisation_from_header",
    "read_appointment",
    "read_service_request",
    "reset",
    "transition",
    "with_assigned_id",
]
