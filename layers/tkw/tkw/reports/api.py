"""The reports API: what the ``/tkw/reports`` handlers call.

=======  ===========================  ===================================================================
Method   Path                         Function
=======  ===========================  ===================================================================
GET      /tkw/reports                 :func:`list_reports` (``since``, ``until``, ``verdict``,
                                      ``correlation_id``, ``direction``, ``limit``, ``page_token``)
GET      /tkw/reports/{id}            :func:`get_report` (JSON record; HTML for ``Accept: text/html``
                                      or ``?format=html``)
GET      /tkw/reports/{id}/download   :func:`download_report` (302 to a presigned link; ``?format=json``;
                                      ``?link=json``: 200 ``{"url", "expires_in"}`` instead of the 302)
POST     /tkw/reports/download        :func:`download_zip` (``{"ids": [...]}`` or ``{"since", "until"}``
                                      → 201 with a presigned ``url`` of a zip)
=======  ===========================  ===================================================================

The caller's organisation comes from ``NHSD-End-User-Organisation``, exactly as on BaRS requests,
through :class:`tkw.access.Caller` (in int mode: only the organisations the application is bound to).
One organisation never sees another's reports: an id it does not own, or an organisation the caller
is not bound to, is the same 404 as a report that does not exist, never 403.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from tkw.access import Caller
from tkw.fhir.outcome import BarsError
from tkw.http import ApiRequest, ApiResponse
from tkw.reports.handoff import ReportHandoff
from tkw.reports.html import render_report
from tkw.reports.job import issued_at
from tkw.reports.model import Direction
from tkw.reports.store import (
    MAX_PAGE_SIZE,
    MAX_ZIP_REPORTS,
    InvalidPageToken,
    ReportQuery,
    ReportStore,
    ReportSummary,
)
from tkw.validation.findings import Verdict

REPORTS_PATH = "/tkw/reports"
JSON = "application/json"
HTML = "text/html; charset=utf-8"
# Reports hold (test) patient data: never cached by a browser or a proxy.
NO_STORE = {"Cache-Control": "no-store"}
VERDICTS: dict[str, Verdict] = {"pass": "pass", "fail": "fail", "warnings": "warnings"}
# inbound: requests the sender made; outbound: responses the emulator sent to the sender's endpoint.
DIRECTIONS: dict[str, Direction] = {"inbound": "inbound", "outbound": "outbound"}


def bad_request(message: str, code: str = "value", parameter: str | None = None) -> BarsError:
    return BarsError.of(400, "REC_BAD_REQUEST", code, message, expression=parameter)


def report_not_found(report_id: str) -> BarsError:
    return BarsError.of(
        404, "REC_NOT_FOUND", "not-found", f"No report {report_id[:80]!r} exists for your organisation."
    )


def _none_found() -> BarsError:
    return BarsError.of(404, "REC_NOT_FOUND", "not-found", "None of the requested reports exist for your organisation.")


# A report id issued this recently that is not stored yet is still being produced ("pending"),
# not unknown. Report ids carry their issue time (tkw.reports.job.new_report_id).
PENDING_SECONDS = 120
# Where this process produces reports itself, a reader waits up to this long for one in production
# (a 5 MB Bundle's checks take seconds; API Gateway would cut a request off at 29 s).
READ_WAIT_SECONDS = 20.0
RETRY_AFTER_SECONDS = 1


def _in_production(report_id: str, now: float) -> bool:
    issued = issued_at(report_id) if report_id else None
    return issued is not None and now - PENDING_SECONDS <= issued <= now + 5


def still_in_production(report_id: str, now: float, handoff: ReportHandoff | None) -> bool:
    """Whether ``report_id`` was issued moments ago and is still being produced, after waiting
    briefly where this process produces it (read-your-writes: never a 404 for an id just returned)."""
    if not _in_production(report_id, now):
        return False
    return handoff is None or not handoff.wait_for(report_id, READ_WAIT_SECONDS)


def pending(report_id: str) -> ApiResponse:
    """202: the report was issued moments ago and is still being produced; ask again shortly."""
    body = {
        "id": report_id,
        "status": "pending",
        "message": "This report is still being produced; ask again in a moment.",
        "retry_after": RETRY_AFTER_SECONDS,
    }
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), **NO_STORE}
    return ApiResponse(202, body, content_type=JSON, headers=headers)


def _now(now: float | None) -> float:
    return time.time() if now is None else now


def _report_id(request: ApiRequest, report_id: str | None) -> str:
    if report_id:
        return report_id
    found = request.path_params.get("id")
    if found:
        return found
    # /tkw/reports/{id} or /tkw/reports/{id}/download
    parts = [p for p in request.path.split("/") if p]
    if parts and parts[-1] == "download":
        parts = parts[:-1]
    return parts[-1] if parts else ""


def _parse_time(value: str, name: str, *, end_of_day: bool) -> datetime:
    text = value.strip()
    try:
        if len(text) == 10:  # a date: the whole day
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1, microseconds=-1) if end_of_day else start
        moment = datetime.fromisoformat(text.replace(" ", "+"))  # an unencoded "+" arrives as a space
    except ValueError:
        raise bad_request(
            f"{name} {value[:40]!r} is not an ISO 8601 date or date-time (e.g. 2026-01-31 or 2026-01-31T09:00:00Z).",
            parameter=name,
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _time_window(values: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    since = _parse_time(str(values["since"]), "since", end_of_day=False) if values.get("since") else None
    until = _parse_time(str(values["until"]), "until", end_of_day=True) if values.get("until") else None
    if since and until and since > until:
        raise bad_request("since is after until: the window is empty.", parameter="since")
    return since, until


def _query_from(request: ApiRequest) -> ReportQuery:
    params = {name: request.param(name) for name in ("since", "until", "verdict", "correlation_id", "limit")}
    since, until = _time_window(params)
    verdict = params["verdict"]
    if verdict is not None and verdict not in VERDICTS:
        raise bad_request(f"verdict must be one of {', '.join(VERDICTS)}.", parameter="verdict")
    direction = request.param("direction")
    if direction is not None and direction not in DIRECTIONS:
        raise bad_request(f"direction must be one of {', '.join(DIRECTIONS)}.", parameter="direction")
    limit_text = params["limit"]
    limit = 50
    if limit_text is not None:
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE_SIZE:
            raise bad_request(f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}.", parameter="limit")
        limit = int(limit_text)
    return ReportQuery(
        since=since,
        until=until,
        verdict=VERDICTS.get(verdict) if verdict else None,
        correlation_id=params["correlation_id"] or None,
        direction=DIRECTIONS.get(direction) if direction else None,
        limit=limit,
        page_token=request.param("page_token") or None,
    )


def _links(request: ApiRequest, summary: ReportSummary) -> dict[str, str]:
    base = f"{request.base_url}{REPORTS_PATH}/{summary.id}"
    return {"self": base, "html": f"{base}?format=html", "download": f"{base}/download"}


def list_reports(
    request: ApiRequest,
    caller: Caller,
    store: ReportStore,
    now: float | None = None,
    handoff: ReportHandoff | None = None,
) -> ApiResponse:
    """GET /tkw/reports: this organisation's reports, newest first, filtered and paged.

    Where this process produces reports, those handed over before the request are waited for
    (briefly): a sender that lists right after its calls sees them.
    """
    if handoff is not None:
        handoff.settle(READ_WAIT_SECONDS)

    ods = caller.organisation(request)
    query = _query_from(request)
    try:
        page = store.list_reports(ods, query, _now(now))
    except InvalidPageToken as err:
        raise bad_request(f"page_token: {err}.", parameter="page_token") from None
    body: dict[str, Any] = {
        "organisation": ods,
        "count": len(page.reports),
        "reports": [s.model_dump(mode="json") | {"links": _links(request, s)} for s in page.reports],
        "next_page_token": page.next_page_token,
    }
    return ApiResponse(200, body, content_type=JSON, headers=dict(NO_STORE))


def _wants_html(request: ApiRequest) -> bool:
    fmt = (request.param("format") or "").lower()
    if fmt in ("html", "json"):
        return fmt == "html"
    for media in (request.header("Accept") or "").split(","):
        kind = media.split(";", 1)[0].strip().lower()
        if kind == "text/html":
            return True
        if kind in ("application/json", "application/fhir+json"):
            return False
    return False


def get_report(
    request: ApiRequest,
    caller: Caller,
    store: ReportStore,
    report_id: str | None = None,
    now: float | None = None,
    handoff: ReportHandoff | None = None,
) -> ApiResponse:
    """GET /tkw/reports/{id}: the JSON record, or the HTML report for ``Accept: text/html``."""
    wanted = _report_id(request, report_id)
    ods = caller.organisation(request, not_found=report_not_found(wanted))
    record = store.get(ods, wanted, _now(now)) if wanted else None
    if record is None and wanted:
        if still_in_production(wanted, _now(now), handoff):
            return pending(wanted)
        record = store.get(ods, wanted, _now(now))
    if record is None:
        raise report_not_found(wanted)
    if _wants_html(request):
        return ApiResponse(200, render_report(record), content_type=HTML, headers=dict(NO_STORE))
    return ApiResponse(200, record.model_dump(mode="json"), content_type=JSON, headers=dict(NO_STORE))


def download_report(
    request: ApiRequest,
    caller: Caller,
    store: ReportStore,
    report_id: str | None = None,
    now: float | None = None,
    handoff: ReportHandoff | None = None,
) -> ApiResponse:
    """GET /tkw/reports/{id}/download: 302 to a short-lived presigned link (HTML; ``?format=json``).

    ``?link=json`` answers 200 with the link in a JSON body instead, for the portal.
    """

    wanted = _report_id(request, report_id)
    ods = caller.organisation(request, not_found=report_not_found(wanted))
    fmt = (request.param("format") or "html").lower()
    if fmt not in ("html", "json"):
        raise bad_request("format must be html or json.", parameter="format")
    link = (request.param("link") or "").lower()
    if link not in ("", "json"):
        raise bad_request("link must be json (or left out for a 302 redirect).", parameter="link")
    url = store.link(ods, wanted, "json" if fmt == "json" else "html", _now(now)) if wanted else None
    if url is None and wanted:
        if still_in_production(wanted, _now(now), handoff):
            return pending(wanted)
        url = store.link(ods, wanted, "json" if fmt == "json" else "html", _now(now))
    if url is None:
        raise report_not_found(wanted)
    if link == "json":
        # For pages that cannot read a redirect's Location (fetch hides it): the link as JSON.
        body = {"id": wanted, "format": fmt, "url": url, "expires_in": store.link_expiry_seconds}
        return ApiResponse(200, body, content_type=JSON, headers=dict(NO_STORE))
    return ApiResponse(302, None, content_type="text/plain", headers={"Location": url, **NO_STORE})


def _zip_request(request: ApiRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"")
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise bad_request(
            'The body must be a JSON object: {"ids": ["<report id>", ...]} or {"since": "...", "until": "..."}.',
            code="invalid",
        )
    return data


def download_zip(
    request: ApiRequest,
    caller: Caller,
    store: ReportStore,
    now: float | None = None,
    handoff: ReportHandoff | None = None,
) -> ApiResponse:
    """POST /tkw/reports/download: zip the chosen reports and answer 201 with a presigned ``url``."""
    if handoff is not None:
        handoff.settle(READ_WAIT_SECONDS)

    ods = caller.organisation(request, not_found=_none_found())
    data = _zip_request(request)
    moment = _now(now)
    ids = data.get("ids")
    if ids is not None:
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
            raise bad_request("ids must be a non-empty list of report ids.", parameter="ids")
        if len(ids) > MAX_ZIP_REPORTS:
            raise bad_request(f"A zip holds at most {MAX_ZIP_REPORTS} reports.", parameter="ids")
        wanted: list[str] = ids
    elif data.get("since") or data.get("until"):
        wanted = _ids_in_window(store, ods, data, moment)
    else:
        raise bad_request(
            'Say which reports to zip: {"ids": [...]} or {"since": "...", "until": "..."}.', code="required"
        )
    package = store.package(ods, wanted, moment) if wanted else None
    if package is None:
        raise _none_found()
    body = {
        "id": package.id,
        "url": package.url,
        "expires_in": package.expires_in,
        "count": len(package.report_ids),
        "report_ids": package.report_ids,
        "not_found": package.not_found,
    }
    return ApiResponse(201, body, content_type=JSON, headers={"Location": package.url, **NO_STORE})


def _ids_in_window(store: ReportStore, ods: str, data: dict[str, Any], now: float) -> list[str]:
    since, until = _time_window(data)
    try:
        query = ReportQuery(since=since, until=until, limit=MAX_PAGE_SIZE)
    except ValidationError:
        raise bad_request("since/until are not valid times.") from None
    ids: list[str] = []
    while len(ids) < MAX_ZIP_REPORTS:
        page = store.list_reports(ods, query, now)
        ids += [s.id for s in page.reports]
        if not page.next_page_token:
            break
        query = query.model_copy(update={"page_token": page.next_page_token})
    return ids[:MAX_ZIP_REPORTS]
