"""The bad-input corpus: the local runner, started as `make run` starts it, over raw HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from emulator_support import Emulator, start_emulator, stop_emulator


@pytest.fixture(scope="session")
def corpus_emulator() -> Iterator[Emulator]:
    running = start_emulator()
    yield running
    stop_emulator(running)
