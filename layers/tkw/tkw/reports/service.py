"""What the pipeline calls around a BaRS exchange: whose report it is, duplicate detection, saving.

Kept free of AWS: the store is passed in (:class:`~tkw.reports.store.ReportStore`).
"""

from __future__ import annotations

from tkw.encoded_headers import ODS_CODE, HeaderError, decode_end_user_organisation
from tkw.http import ApiRequest
from tkw.reports.html import render_report
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


def is_duplicate_request(store: ReportStore, request: ApiRequest, organisation: str, now: float) -> bool:
    """Claim the request's X-Request-Id for this organisation; True when it was used within 24 h.

    Requests without an identified organisation are never called duplicates: they share one
    bucket, and one sender's ids must not make another's look repeated.
    """
    request_id = (request.request_id or "").strip()
    if not request_id or organisation == UNIDENTIFIED_ORGANISATION:
        return False
    return store.claim_request_id(organisation, request_id, now)


def save_report(store: ReportStore, record: ReportRecord) -> None:
    """Render the HTML and store both with the index entries."""
    store.save(record, render_report(record))
