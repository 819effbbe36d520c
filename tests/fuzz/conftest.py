"""Fuzzing: the local runner, started as `make run` starts it, fed generated requests over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from emulator_support import Emulator, start_emulator, stop_emulator


@pytest.fixture(scope="session")
def fuzz_emulator() -> Iterator[Emulator]:
    """An emulator of its own: fuzzed requests must not disturb other tests' reports or state."""
    running = start_emulator()
    yield running
    stop_emulator(running)
