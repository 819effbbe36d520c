"""Storing one record.

Kept free of AWS: the store is passed in (:class:`~tkw.reports.store.ReportStore`).
"""

from __future__ import annotations

from tkw.reports.model import ReportRecord
from tkw.reports.store import ReportStore


def save_report(store: ReportStore, record: ReportRecord) -> None:
    """Store one record now (the report worker stores batches; this is for one-offs and tests)."""
    failed = store.save_all([record])
    if failed:
        raise RuntimeError(f"report {record.id} could not be stored")
