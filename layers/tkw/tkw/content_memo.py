"""Results of pure checks remembered by the exact bytes they judged.

Senders replay the same fixture messages over and over (a CI suite sends one booking Bundle a
thousand times with a new ``X-Request-Id``). FHIR structure and profile validation are pure
functions of the body's bytes and cost milliseconds each, so the last few hundred distinct bodies'
results are kept: a repeat costs one hash. Only immutable results belong here.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class ContentMemo(Generic[T]):
    """A bounded, thread-safe memo of ``compute()`` keyed by a digest of ``content``."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._results: OrderedDict[bytes, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, content: bytes, compute: Callable[[], T]) -> T:
        # SHA-256: the CPU's own instructions where it has them (x86 SHA-NI, Arm's SHA-2 extension),
        # about twice as fast as BLAKE2b on a replayed booking (19 KB) on this machine.
        key = hashlib.sha256(content).digest()
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
        result = compute()  # outside the lock: two threads may compute the same result once each
        with self._lock:
            self._results[key] = result
            if len(self._results) > self._size:
                self._results.popitem(last=False)
        return result
