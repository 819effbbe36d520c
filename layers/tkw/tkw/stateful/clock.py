"""The nightly reset: state lives until the next 00:00 in Europe/London.

Local midnight is never inside a UK clock change (those happen at 01:00 UTC), so "the next
00:00 London" always exists and is unique; zoneinfo gives its UTC offset (GMT or BST).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo
from functools import cache


@cache
def london() -> tzinfo:
    """Europe/London. Loaded on first use: zoneinfo reads the interpreter's build configuration to
    find the time-zone database (~3 ms), and only 111-to-ED requests and the portal's state need it."""
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/London")


def next_london_midnight(now_epoch: float) -> int:
    """Epoch seconds of the first 00:00 Europe/London strictly after ``now_epoch``."""
    local = datetime.fromtimestamp(now_epoch, london())
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=london())
    return int(midnight.timestamp())


def london_iso(epoch: float) -> str:
    """An instant as ISO 8601 in London time with its offset, e.g. ``2026-03-30T00:00:00+01:00``."""
    return datetime.fromtimestamp(epoch, london()).isoformat(timespec="seconds")
