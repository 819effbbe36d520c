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
    REQUEST_ID_MEMORY_SECONDS,
    ReportFormat,
    ReportPage,
    ReportQuery,
    ReportSummary,
    ZipPackage,
    check_key_part,
    decode_page_token,
    encode_page_token,
    matches,
    report_key,
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
        self.request_ids: dict[tuple[str, str], tuple[float, str]] = {}  # (ods, X-Request-Id) -> expiry, report
        self._lock = threading.Lock()

    @property
    def link_expiry_seconds(self) -> int:
        return self._link_expiry_seconds

    def claim_request_id(self, ods: str, request_id: str, now: float, report_id: str) -> bool:
        key = (ods, request_id)
        with self._lock:
            claim = self.request_ids.get(key)
            if claim is not None and claim[0] > now and claim[1] != report_id:
                return True
            self.request_ids[key] = (now + REQUEST_ID_MEMORY_SECONDS, report_id)
            return False

    def save_all(self, records: Sequence[ReportRecord]) -> list[str]:
        for record in records:
            ods = check_key_part(record.organisation, "organisation")
            check_key_part(record.id, "report id")
            with self._lock:
                self.records[(ods, record.id)] = record
                self.objects[report_key(ods, record.id, record.time, "json")] = record.to_json().encode()
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
        if fmt == "html":  # rendered on first read
            with self._lock:
                self.objects[report_key(ods, report_id, record.time, "html")] = render_report(record).encode()
        return f"memory://{report_key(ods, report_id, record.time, fmt)}?expires={int(now) + self.link_expiry_seconds}"

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
