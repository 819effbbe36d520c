"""Hourly limits on what the emulator sends out for an organisation: a stack is no relay to flood a third party.

Receiver runs (a whole suite of requests to a supplier's receiver) and asynchronous responses (one
message each) have separate budgets per organisation and clock hour (template parameters
``ReceiverRunsPerHour`` and ``AsyncResponsesPerHour``). Before anything is queued or sent::

    outbound.admit(services.outbound_counter, ods, OutboundKind.ASYNC_RESPONSE, services.settings, services.clock())

which raises 429 SEND_TOO_MANY_REQUESTS (with ``Retry-After``) once the hour's budget is spent.
The count lives behind :class:`OutboundCounter` (DynamoDB in :mod:`tkw.adapters.outbound_counter`).
"""

from __future__ import annotations

import math
import threading
from enum import StrEnum
from typing import Protocol

from tkw.fhir.outcome import BarsError
from tkw.settings import Settings

WINDOW_SECONDS = 3600


class OutboundKind(StrEnum):
    RECEIVER_RUN = "receiver-run"
    ASYNC_RESPONSE = "async-response"


class OutboundCounter(Protocol):
    def take(self, organisation: str, kind: str, window_start: int, limit: int, expires_at: int) -> bool:
        """Count one more send in the window; False (and nothing counted) when ``limit`` is reached.

        Atomic: of concurrent callers at ``limit - 1`` exactly one gets True.
        """
        ...


def limit_for(kind: OutboundKind, settings: Settings) -> int:
    return settings.receiver_runs_per_hour if kind is OutboundKind.RECEIVER_RUN else settings.async_responses_per_hour


def admit(counter: OutboundCounter, organisation: str, kind: OutboundKind, settings: Settings, now: float) -> None:
    """Count one send for ``organisation``, or raise 429 when its hourly budget is spent."""
    limit = limit_for(kind, settings)
    window_start = int(now) - int(now) % WINDOW_SECONDS
    window_end = window_start + WINDOW_SECONDS
    # Kept one window longer than needed: TTL deletion is lazy, and readers never look back.
    if counter.take(organisation, kind.value, window_start, limit, window_end + WINDOW_SECONDS):
        return
    retry_after = max(1, math.ceil(window_end - now))
    what = "receiver runs" if kind is OutboundKind.RECEIVER_RUN else "asynchronous responses"
    raise BarsError.of(
        429,
        "SEND_TOO_MANY_REQUESTS",
        "throttled",
        f"This organisation has used its {limit} {what} for this hour (a limit of the emulator, so that it "
        f"cannot be used to flood anyone's endpoint); try again in {retry_after} seconds.",
        headers={"Retry-After": str(retry_after)},
    )


class MemoryOutboundCounter:
    """An in-memory :class:`OutboundCounter` for unit tests and single-process tools."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent: dict[tuple[str, str, int], int] = {}

    def take(self, organisation: str, kind: str, window_start: int, limit: int, expires_at: int) -> bool:
        with self._lock:
            key = (organisation, kind, window_start)
            if self.sent.get(key, 0) >= limit:
                return False
            self.sent[key] = self.sent.get(key, 0) + 1
            return True
