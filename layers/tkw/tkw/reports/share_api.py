"""The share-link API: what the ``/tkw/reports/.../share``, ``/tkw/shares`` and ``/tkw/shared`` handlers call.

======  ==========================  ================================================================
Method  Path                        Function
======  ==========================  ================================================================
POST    /tkw/reports/{id}/share     :func:`share_report` → 201 ``{"id", "url", "expires_at", ...}``
POST    /tkw/reports/share          :func:`share_zip` (``{"ids": [...]}``) → 201, the link downloads a zip
GET     /tkw/shares                 :func:`list_shares`: the organisation's links (never their tokens)
DELETE  /tkw/shares/{token}         :func:`revoke_share` (the token, or the ``id`` from the list) → 204
GET     /tkw/shared/{token}         :func:`open_share`: no credentials; the report's HTML page, or a 302
                                    to a fresh, short presigned download of the zip
======  ==========================  ================================================================

Creating, listing and withdrawing act for ``caller.organisation(request)`` (:mod:`tkw.access`); an
expired, withdrawn or unknown link answers an HTML page saying so, never an S3 error.
"""

from __future__ import annotations

import json
from typing import Any

from tkw.access import Caller
from tkw.fhir.outcome import BarsError
from tkw.http import ApiRequest, ApiResponse
from tkw.reports.api import (
    HTML,
    JSON,
    NO_STORE,
    READ_WAIT_SECONDS,
    bad_request,
    pending,
    report_not_found,
    still_in_production,
)
from tkw.reports.handoff import ReportHandoff
from tkw.reports.html import render_notice, render_report
from tkw.reports.shares import (
    SHARED_PATH,
    ShareKind,
    ShareRecord,
    ShareStore,
    is_share_id,
    iso,
    new_token,
    share_id,
)
from tkw.reports.store import MAX_ZIP_REPORTS, ReportStore
from tkw.settings import Settings

# An opened link must not leak its token through the Referer of anything the page links to.
SHARED_PAGE_HEADERS = {**NO_STORE, "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
_NO_SUCH_SHARE = "No share link exists for your organisation under this token or id."


def _create(
    request: ApiRequest,
    caller: Caller,
    shares: ShareStore,
    settings: Settings,
    organisation: str,
    kind: ShareKind,
    report_ids: list[str],
    now: float,
    extra: dict[str, Any] | None = None,
) -> ApiResponse:
    token = new_token()
    share = ShareRecord(
        id=share_id(token),
        organisation=organisation,
        kind=kind,
        report_ids=tuple(report_ids),
        created_at=int(now),
        valid_until=int(now) + settings.share_link_days * 86400,
        created_by=caller.application,
    )
    shares.put(share)
    url = f"{request.base_url}{SHARED_PATH}/{token}"
    body = {
        "id": share.id,
        "url": url,
        "expires_at": iso(share.valid_until),
        "kind": kind,
        "report_ids": report_ids,
        **(extra or {}),
    }
    return ApiResponse(201, body, content_type=JSON, headers=dict(NO_STORE))


def share_report(
    request: ApiRequest,
    caller: Caller,
    reports: ReportStore,
    shares: ShareStore,
    settings: Settings,
    report_id: str,
    now: float,
    handoff: ReportHandoff | None = None,
) -> ApiResponse:
    """POST /tkw/reports/{id}/share: a link to the report's HTML page, valid ``ShareLinkDays``."""
    organisation = caller.organisation(request, not_found=report_not_found(report_id))
    if reports.get(organisation, report_id, now) is None:
        if still_in_production(report_id, now, handoff):
            return pending(report_id)
        if reports.get(organisation, report_id, now) is None:
            raise report_not_found(report_id)
    return _create(request, caller, shares, settings, organisation, "report", [report_id], now)


def share_zip(
    request: ApiRequest,
    caller: Caller,
    reports: ReportStore,
    shares: ShareStore,
    settings: Settings,
    now: float,
    handoff: ReportHandoff | None = None,
) -> ApiResponse:
    """POST /tkw/reports/share with ``{"ids": [...]}``: a link that downloads a zip of those reports."""
    if handoff is not None:
        handoff.settle(READ_WAIT_SECONDS)  # reports answered for before this request are in the zip
    none_found = BarsError.of(
        404, "REC_NOT_FOUND", "not-found", "None of the requested reports exist for your organisation."
    )
    organisation = caller.organisation(request, not_found=none_found)
    try:
        data = json.loads(request.body or b"")
    except (ValueError, RecursionError):
        data = None
    ids = data.get("ids") if isinstance(data, dict) else None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise bad_request('The body must be {"ids": ["<report id>", ...]}.', parameter="ids")
    if len(ids) > MAX_ZIP_REPORTS:
        raise bad_request(f"A zip holds at most {MAX_ZIP_REPORTS} reports.", parameter="ids")
    wanted = list(dict.fromkeys(ids))
    found = [i for i in wanted if reports.get(organisation, i, now) is not None]
    if not found:
        raise none_found
    not_found = [i for i in wanted if i not in found]
    return _create(request, caller, shares, settings, organisation, "zip", found, now, {"not_found": not_found})


def list_shares(request: ApiRequest, caller: Caller, shares: ShareStore, now: float) -> ApiResponse:
    """GET /tkw/shares: the organisation's share links, newest first (their ids, never their tokens)."""
    organisation = caller.organisation(request)
    found = shares.list(organisation, now)
    body = {"organisation": organisation, "count": len(found), "shares": [s.view(now) for s in found]}
    return ApiResponse(200, body, content_type=JSON, headers=dict(NO_STORE))


def _lookup(shares: ShareStore, token_or_id: str) -> ShareRecord | None:
    if not token_or_id or len(token_or_id) > 200:
        return None
    found = shares.get(share_id(token_or_id))
    if found is None and is_share_id(token_or_id):
        found = shares.get(token_or_id)
    return found


def revoke_share(request: ApiRequest, caller: Caller, shares: ShareStore, token_or_id: str, now: float) -> ApiResponse:
    """DELETE /tkw/shares/{token}: the link stops working at once. 404 when it is not the caller's."""
    missing = BarsError.of(404, "REC_NOT_FOUND", "not-found", _NO_SUCH_SHARE)
    organisation = caller.organisation(request, not_found=missing)
    share = _lookup(shares, token_or_id)
    if share is None or share.organisation != organisation:
        raise missing
    shares.revoke(share, now)
    return ApiResponse(204, None, content_type=JSON)


def _notice(status: int, title: str, message: str) -> ApiResponse:
    return ApiResponse(status, render_notice(title, message), content_type=HTML, headers=dict(SHARED_PAGE_HEADERS))


def open_share(request: ApiRequest, reports: ReportStore, shares: ShareStore, token: str, now: float) -> ApiResponse:
    """GET /tkw/shared/{token}: anyone with the link, no headers; records when it was opened."""
    share = shares.get(share_id(token)) if 0 < len(token) <= 200 else None
    if share is None:
        return _notice(
            404,
            "This link is not valid",
            "No shared report is known under this link. Check that it was copied whole, or ask the supplier "
            "who sent it for a new one.",
        )
    status = share.status(now)
    if status == "revoked":
        return _notice(
            410,
            "This link has been withdrawn",
            f"The supplier withdrew this shared report on {iso(share.revoked_at or now)}. Ask them for a new link.",
        )
    if status == "expired":
        return _notice(
            410,
            "This link has expired",
            f"Shared report links last a limited time; this one ended on {iso(share.valid_until)}. "
            "Ask the supplier who sent it for a new link.",
        )
    if share.kind == "report":
        record = reports.get(share.organisation, share.report_ids[0], now)
        if record is None:
            return _gone_report()
        shares.record_opened(share, now)
        return ApiResponse(200, render_report(record), content_type=HTML, headers=dict(SHARED_PAGE_HEADERS))
    package = reports.package(share.organisation, list(share.report_ids), now)
    if package is None:
        return _gone_report()
    shares.record_opened(share, now)
    return ApiResponse(302, None, content_type="text/plain", headers={"Location": package.url, **SHARED_PAGE_HEADERS})


def _gone_report() -> ApiResponse:
    return _notice(
        410,
        "The shared report is no longer kept",
        "The link is still valid, but the report it shows has passed the emulator's retention period.",
    )
