"""The nightly reset: state lives until the next 00:00 in Europe/London.

Local midnight is never inside a UK clock change (those happen at 01:00 UTC), so "the next
00:00 London" always exists and is unique; zoneinfo gives its UTC offset (GMT or BST).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def next_london_midnight(now_epoch: float) -> int:
    """Epoch seconds of the first 00:00 Europe/London strictly after ``now_epoch``."""
    local = datetime.fromtimestamp(now_epoch, LONDON)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=LONDON)
    return int(midnight.timestamp())


def london_iso(epoch: float) -> str:
    """An instant as ISO 8601 in London time with its offset, e.g. ``2026-03-30T00:00:00+01:00``."""
    return datetime.fromtimestamp(epoch, LONDON).isoformat(timespec="seconds")
