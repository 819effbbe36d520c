"""Whose report an exchange is, and storing one record.

Kept free of AWS: the store is passed in (:class:`~tkw.reports.store.ReportStore`).
"""

from __future__ import annotations

from tkw.encoded_headers import ODS_CODE, HeaderError, decode_end_user_organisation
from tkw.http import ApiRequest
from tkw.reports.model import UNIDENTIFIED_ORGANISATION, ReportRecord
from tkw.reports.store import ReportStore

ORGANISATION_HEADER = "NHSD-End-User-Organisation"


def report_organisation(request: ApiRequest) -> str:
    """The ODS code a request's report is filed under; UNIDENTIFIED_ORGANISATION when there is none.

    UNIDENTIFIED_ORGANISATION can never be asked for (it is not an ODS code).
    """
    raw = request.header(ORGANISATION_HEADER)
    if not raw:
        return UNIDENTIFIED_ORGANISATION
    try:
        ods = decode_end_user_organisation(raw)
    except HeaderError:
        return UNIDENTIFIED_ORGANISATION
    return ods if ODS_CODE.match(ods) else UNIDENTIFIED_ORGANISATION


def save_report(store: ReportStore, record: ReportRecord) -> None:
    """Store one record now (the report worker stores batches; this is for one-offs and tests)."""
    failed = store.save_all([record])
    if failed:
        raise RuntimeError(f"report {record.id} could not be stored")
