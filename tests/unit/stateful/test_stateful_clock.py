"""The nightly reset instant: the next 00:00 Europe/London, across the GMT/BST changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tkw.stateful.clock import london_iso, next_london_midnight

LONDON = ZoneInfo("Europe/London")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("now", "expected_utc", "expected_iso"),
    [
        # An ordinary winter day (GMT): midnight London is midnight UTC.
        (utc(2026, 1, 15, 14, 30), utc(2026, 1, 16, 0, 0), "2026-01-16T00:00:00+00:00"),
        # An ordinary summer day (BST): midnight London is 23:00 UTC the day before.
        (utc(2026, 7, 1, 12, 0), utc(2026, 7, 1, 23, 0), "2026-07-02T00:00:00+01:00"),
        # 23:30 London in summer is 22:30 UTC: still before that night's reset.
        (utc(2026, 7, 1, 22, 30), utc(2026, 7, 1, 23, 0), "2026-07-02T00:00:00+01:00"),
        # Spring forward (Sun 2026-03-29, 01:00 GMT -> 02:00 BST): a 23-hour day.
        (utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 23, 0), "2026-03-30T00:00:00+01:00"),
        (utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 23, 0), "2026-03-30T00:00:00+01:00"),
        # The evening before spring forward is still GMT.
        (utc(2026, 3, 28, 20, 0), utc(2026, 3, 29, 0, 0), "2026-03-29T00:00:00+00:00"),
        # Fall back (Sun 2026-10-25, 02:00 BST -> 01:00 GMT): a 25-hour day.
        (utc(2026, 10, 24, 22, 0), utc(2026, 10, 24, 23, 0), "2026-10-25T00:00:00+01:00"),
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 0, 0), "2026-10-26T00:00:00+00:00"),
        (utc(2026, 10, 25, 1, 30), utc(2026, 10, 26, 0, 0), "2026-10-26T00:00:00+00:00"),
    ],
)
def test_next_midnight(now: float, expected_utc: float, expected_iso: str) -> None:
    assert next_london_midnight(now) == int(expected_utc)
    assert london_iso(next_london_midnight(now)) == expected_iso


def test_at_midnight_exactly_the_next_reset_is_a_day_later() -> None:
    midnight = int(utc(2026, 1, 16, 0, 0))
    assert next_london_midnight(midnight) == int(utc(2026, 1, 17, 0, 0))
    assert next_london_midnight(midnight - 1) == midnight


def test_clock_change_days_last_23_and_25_hours() -> None:
    spring = next_london_midnight(utc(2026, 3, 29, 0, 0, 1)) - next_london_midnight(utc(2026, 3, 28, 12, 0))
    autumn = next_london_midnight(utc(2026, 10, 25, 12, 0)) - next_london_midnight(utc(2026, 10, 24, 12, 0))
    assert (spring, autumn) == (23 * 3600, 25 * 3600)


@given(st.integers(min_value=int(utc(2000, 1, 1)), max_value=int(utc(2100, 1, 1))))
def test_always_the_first_london_midnight_after_now(now: int) -> None:
    reset = next_london_midnight(now)
    local = datetime.fromtimestamp(reset, LONDON)
    assert (local.hour, local.minute, local.second) == (0, 0, 0)
    assert now < reset <= now + 25 * 3600
    assert datetime.fromtimestamp(reset - 1, LONDON).date() == datetime.fromtimestamp(now, LONDON).date()
