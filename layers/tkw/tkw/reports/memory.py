"""An in-memory :class:`~tkw.reports.store.ReportStore` for tests and local experiments.

Same scoping and filtering as the S3 store; links are ``memory://`` URLs naming the object key,
whose bytes are in :attr:`InMemoryReportStore.objects`.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence

from tkw.reports.html import render_report
from tkw.reports.model import ReportRecord
from tkw.reports.package import build_zip
from tkw.reports.store import (
    MAX_ZIP_REPORTS,
    ReportFormat,
    ReportPage,
    ReportQuery,
    ReportSummary,
    RequestIdClaim,
    ZipPackage,
    check_key_part,
    decode_page_token,
    encode_page_token,
    matches,
    report_key,
    reused_request_ids,
    summary_of,
    time_bounds,
    time_key,
    zip_key,
)


class InMemoryReportStore:
    def __init__(self, link_expiry_seconds: int = 900) -> None:
        self._link_expiry_seconds = max(1, min(900, link_expiry_seconds))
        self.objects: dict[str, bytes] = {}
        self.records: dict[tuple[str, str], ReportRecord] = {}
        self.request_ids: dict[tuple[str, str], tuple[str, int]] = {}  # (ods, X-Request-Id) -> report, expiry
        self._lock = threading.Lock()

    @property
    def link_expiry_seconds(self) -> int:
        return self._link_expiry_seconds

    def claim_request_id(self, ods: str, request_id: str, now: float, report_id: str) -> bool:
        claim, key = RequestIdClaim(ods, request_id, report_id, now), (ods, request_id)
        with self._lock:
            if reused_request_ids([claim], {key: self.request_ids[key]} if key in self.request_ids else {}):
                return True
            self.request_ids[key] = (report_id, claim.expires_at)
            return False

    def claim_request_ids(self, claims: Sequence[RequestIdClaim]) -> set[str]:
        with self._lock:
            stored = {k: self.request_ids[k] for k in {(c.ods, c.request_id) for c in claims} if k in self.request_ids}
        return reused_request_ids(claims, stored)

    def save_all(self, records: Sequence[ReportRecord], claims: Sequence[RequestIdClaim] = ()) -> list[str]:
        stored: set[str] = set()
        for record in records:
            ods = check_key_part(record.organisation, "organisation")
            check_key_part(record.id, "report id")
            with self._lock:
                self.records[(ods, record.id)] = record
                for fmt in ("json", "html"):  # a rewritten report is rendered afresh on its next read
                    self.objects.pop(report_key(ods, record.id, record.time, fmt), None)
            stored.add(record.id)
        with self._lock:
            for claim in sorted(claims, key=lambda c: c.received):
                if claim.request_id and claim.report_id in stored:
                    self.request_ids[(claim.ods, claim.request_id)] = (claim.report_id, claim.expires_at)
        return []

    def list_reports(self, ods: str, query: ReportQuery, now: float) -> ReportPage:
        low, high = time_bounds(query)
        after = decode_page_token(query.page_token, ods)
        with self._lock:
            mine = [r for (o, _), r in self.records.items() if o == ods]
        keyed = sorted(((f"{time_key(r.time)}#{r.id}", r) for r in mine), key=lambda kr: kr[0], reverse=True)
        page: list[ReportSummary] = []
        last_key = None
        more = False
        for key, record in keyed:
            if not low <= key <= high or (after is not None and key >= after):
                continue
            summary = summary_of(record)
            if not matches(summary, query):
                continue
            if len(page) == query.limit:
                more = True
                break
            page.append(summary)
            last_key = key
        return ReportPage(reports=page, next_page_token=encode_page_token(last_key, ods) if more and last_key else None)

    def get(self, ods: str, report_id: str, now: float) -> ReportRecord | None:
        with self._lock:
            return self.records.get((ods, report_id))

    def link(self, ods: str, report_id: str, fmt: ReportFormat, now: float) -> str | None:
        record = self.get(ods, report_id, now)
        if record is None:
            return None
        key = report_key(ods, report_id, record.time, fmt)
        with self._lock:
            materialised = key in self.objects
        if not materialised:  # made on first read, as the S3 store does
            data = render_report(record).encode() if fmt == "html" else record.to_json().encode()
            with self._lock:
                self.objects[key] = data
        return f"memory://{key}?expires={int(now) + self.link_expiry_seconds}"

    def package(self, ods: str, report_ids: Sequence[str], now: float) -> ZipPackage | None:
        wanted = list(dict.fromkeys(report_ids))[:MAX_ZIP_REPORTS]
        found = [r for r in (self.get(ods, i, now) for i in wanted) if r is not None]
        if not found:
            return None
        found.sort(key=lambda r: r.time, reverse=True)
        zip_id = str(uuid.uuid4())
        key = zip_key(check_key_part(ods, "organisation"), zip_id)
        with self._lock:
            self.objects[key] = build_zip(found)
        return ZipPackage(
            id=zip_id,
            key=key,
            url=f"memory://{key}?expires={int(now) + self.link_expiry_seconds}",
            expires_in=self.link_expiry_seconds,
            report_ids=[r.id for r in found],
            not_found=[i for i in wanted if i not in {r.id for r in found}],
        )
