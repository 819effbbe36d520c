"""What the pipeline calls around a BaRS exchange: whose report it is, duplicate detection, saving.

Kept free of AWS: the store is passed in (:class:`~tkw.reports.store.ReportStore`).
"""

from __future__ import annotations

import re

from tkw.encoded_headers import HeaderError, decode_end_user_organisation
from tkw.fhir.outcome import BarsError
from tkw.http import ApiRequest
from tkw.reports.html import render_report
from tkw.reports.model import UNIDENTIFIED_ORGANISATION, ReportRecord
from tkw.reports.store import ReportStore

# What a report can be filed under and asked for: ODS codes are letters and digits (hyphens are
# tolerated for test organisations). UNIDENTIFIED_ORGANISATION can never match.
ODS_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,15}$")
ORGANISATION_HEADER = "NHSD-End-User-Organisation"


def report_organisation(request: ApiRequest) -> str:
    """The ODS code a request's report is filed under; UNIDENTIFIED_ORGANISATION when there is none."""
    raw = request.header(ORGANISATION_HEADER)
    if not raw:
        return UNIDENTIFIED_ORGANISATION
    try:
        ods = decode_end_user_organisation(raw)
    except HeaderError:
        return UNIDENTIFIED_ORGANISATION
    return ods if ODS_CODE.match(ods) else UNIDENTIFIED_ORGANISATION


def requesting_organisation(request: ApiRequest) -> str:
    """The caller's ODS code for the reports API; a 400 OperationOutcome saying what is wrong otherwise."""
    raw = request.header(ORGANISATION_HEADER)
    example = (
        'base64 of {"resourceType": "Organization", "identifier": [{"system": '
        '"https://fhir.nhs.uk/Id/ods-organization-code", "value": "<your ODS code>"}]}'
    )
    if raw is None or not raw.strip():
        raise BarsError.of(
            400,
            "REC_BAD_REQUEST",
            "required",
            f"The {ORGANISATION_HEADER} header is missing: reports are filed under the ODS code it carries, "
            f"so send the same header as on your BaRS requests ({example}).",
            header=ORGANISATION_HEADER,
        )
    try:
        ods = decode_end_user_organisation(raw)
    except HeaderError as err:
        raise BarsError.of(
            400,
            "REC_BAD_REQUEST",
            "invalid",
            f"The {ORGANISATION_HEADER} header could not be decoded: {err} It must be {example}.",
            header=ORGANISATION_HEADER,
        ) from None
    if not ODS_CODE.match(ods):
        raise BarsError.of(
            400,
            "REC_BAD_REQUEST",
            "value",
            f"The ODS code in {ORGANISATION_HEADER} ({ods[:40]!r}) is not an ODS code (letters and digits).",
            header=ORGANISATION_HEADER,
        )
    return ods


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
