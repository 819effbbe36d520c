"""Validation reports: the record (JSON), its HTML rendering, the storage port, the reports API.

The pipeline hands each BaRS exchange over as a :class:`ReportJob` (:mod:`tkw.reports.handoff`);
the report worker (:mod:`tkw.reports.production`) builds its record and stores it through a
:class:`ReportStore` (S3 + DynamoDB in :mod:`tkw.adapters.report_store`, in memory in
:mod:`tkw.reports.memory`); :mod:`tkw.reports.api` serves ``/tkw/reports``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tkw.lazy import lazy_attributes

if TYPE_CHECKING:
    from tkw.reports.html import render_index, render_report
    from tkw.reports.job import UNIDENTIFIED_ORGANISATION, ReportJob, new_report_id, report_organisation
    from tkw.reports.model import ExchangeRecord, ReportRecord, build_report
    from tkw.reports.service import save_report
    from tkw.reports.store import ReportPage, ReportQuery, ReportStore, ReportSummary, ZipPackage

# Imported on first use (PEP 562): the request path needs the job, not the HTML renderer.
_HOME = {
    "render_index": "html",
    "render_report": "html",
    "ReportJob": "job",
    "new_report_id": "job",
    "UNIDENTIFIED_ORGANISATION": "job",
    "ExchangeRecord": "model",
    "ReportRecord": "model",
    "build_report": "model",
    "report_organisation": "job",
    "save_report": "service",
    "ReportPage": "store",
    "ReportQuery": "store",
    "ReportStore": "store",
    "ReportSummary": "store",
    "ZipPackage": "store",
}


__getattr__ = lazy_attributes(__name__, _HOME)


__all__ = [
    "UNIDENTIFIED_ORGANISATION",
    "ExchangeRecord",
    "ReportJob",
    "ReportPage",
    "ReportQuery",
    "ReportRecord",
    "ReportStore",
    "ReportSummary",
    "ZipPackage",
    "build_report",
    "new_report_id",
    "render_index",
    "render_report",
    "report_organisation",
    "save_report",
]
