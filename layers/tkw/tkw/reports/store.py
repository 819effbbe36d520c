"""The report store port: what the pipeline and the reports API need from storage.

:class:`tkw.adapters.report_store.S3ReportStore` implements it on S3 + DynamoDB;
:class:`tkw.reports.memory.InMemoryReportStore` implements it in memory for tests. Every method
is scoped to one organisation (ODS code): a report id of another organisation is simply not found.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from tkw.reports.model import ReportRecord
from tkw.validation.findings import Verdict

# X-Request-Id values are remembered this long per organisation for duplicate detection.
REQUEST_ID_MEMORY_SECONDS = 24 * 3600
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50
# One zip holds at most this many reports (it is built in memory).
MAX_ZIP_REPORTS = 200

ReportFormat = Literal["html", "json"]


class ReportQuery(BaseModel):
    """Filters of a listing; ``since``/``until`` are inclusive, newest reports come first."""

    model_config = ConfigDict(frozen=True)

    since: datetime | None = None
    until: datetime | None = None
    verdict: Verdict | None = None
    correlation_id: str | None = None
    direction: Literal["inbound", "outbound"] | None = None  # outbound: responses sent to the sender
    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    page_token: str | None = None  # opaque: the previous page's next_page_token


class ReportSummary(BaseModel):
    """An index entry: enough to list and filter reports without reading them."""

    model_config = ConfigDict(frozen=True)

    id: str
    time: str  # ISO 8601 UTC, e.g. 2026-01-31T09:30:00.123456Z
    organisation: str
    verdict: Verdict
    operation: str | None = None
    method: str | None = None
    path: str | None = None
    status: int | None = None
    target: str | None = None
    scenario: str | None = None
    correlation_id: str | None = None
    request_id: str | None = None
    errors: int = 0
    warnings: int = 0
    direction: Literal["inbound", "outbound"] = "inbound"  # outbound: a response sent to the sender
    trigger_report_id: str | None = None


class ReportPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    reports: list[ReportSummary]
    next_page_token: str | None = None


class ZipPackage(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    key: str  # where the zip is stored, e.g. zips/A1001/<id>.zip
    url: str  # presigned GET link
    expires_in: int  # seconds the link stays valid
    report_ids: list[str]  # what the zip holds, newest first
    not_found: list[str] = Field(default_factory=list)  # requested ids this organisation has no report for


@dataclass(frozen=True, slots=True)
class RequestIdClaim:
    """A report's claim on the ``X-Request-Id`` its request carried (duplicate detection)."""

    ods: str
    request_id: str
    report_id: str
    received: float  # when the request arrived (epoch seconds): the 24 h count from here

    @property
    def expires_at(self) -> int:
        return math.floor(self.received) + REQUEST_ID_MEMORY_SECONDS


class InvalidPageToken(ValueError):
    """The page token was not issued by this store for this organisation and query."""


class ReportStore(Protocol):
    @property
    def link_expiry_seconds(self) -> int:
        """Lifetime of the presigned links this store hands out."""
        ...

    def claim_request_id(self, ods: str, request_id: str, now: float, report_id: str) -> bool:
        """Remember ``request_id`` for 24 h; True when this organisation already used it (a duplicate).

        A claim already made by ``report_id`` itself (a retried report) is not a reuse.
        """
        ...

    def claim_request_ids(self, claims: Sequence[RequestIdClaim]) -> set[str]:
        """The report ids among ``claims`` whose X-Request-Id their organisation already used within
        24 h under a *different* report id (stored claims, and earlier claims of the same batch).

        Nothing is remembered yet: pass the claims that were not reuses to :meth:`save_all`, which
        stores them with their reports (one write path for the claim and the index).
        """
        ...

    def save_all(self, records: Sequence[ReportRecord], claims: Sequence[RequestIdClaim] = ()) -> list[str]:
        """Store the records and their index entries, and remember ``claims`` (those of the stored
        records; never a claim :meth:`claim_request_ids` found reused); the ids that could not be stored.

        The JSON and HTML objects are made on first read (:meth:`link`), never on the request's behalf.
        """
        ...

    def list_reports(self, ods: str, query: ReportQuery, now: float) -> ReportPage:
        """This organisation's reports matching ``query``, newest first."""
        ...

    def get(self, ods: str, report_id: str, now: float) -> ReportRecord | None: ...

    def link(self, ods: str, report_id: str, fmt: ReportFormat, now: float) -> str | None:
        """A presigned GET URL of the stored report, or None when this organisation has no such report."""
        ...

    def package(self, ods: str, report_ids: Sequence[str], now: float) -> ZipPackage | None:
        """Zip the reports (HTML + JSON each, plus index.html), store it, and link to it; None if none found."""
        ...


# -- helpers shared by the implementations ------------------------------------------------------

_SAFE_KEY_PART = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def reused_request_ids(claims: Sequence[RequestIdClaim], stored: Mapping[tuple[str, str], tuple[str, int]]) -> set[str]:
    """The report ids of ``claims`` that reuse an X-Request-Id, given the claims already ``stored``
    ((ods, X-Request-Id) -> (report id, expires_at)). Within the batch the earlier request is the
    original; a claim by the holder's own report id is a redelivery, not a reuse; a claim without an
    X-Request-Id is none."""
    holders = dict(stored)
    reused: set[str] = set()
    for claim in sorted((c for c in claims if c.request_id), key=lambda c: (c.received, c.report_id)):
        key = (claim.ods, claim.request_id)
        holder = holders.get(key)
        if holder is not None and holder[1] > claim.received and holder[0] != claim.report_id:
            reused.add(claim.report_id)
        else:
            holders[key] = (claim.report_id, claim.expires_at)
    return reused


def check_key_part(value: str, what: str) -> str:
    """ODS codes and report ids become parts of S3 keys and DynamoDB keys: nothing but [A-Za-z0-9_-]."""
    if not value or len(value) > 64 or not set(value) <= _SAFE_KEY_PART:
        raise ValueError(f"{what} {value[:70]!r} cannot be used in a storage key")
    return value


def time_key(moment: datetime) -> str:
    """Fixed-width UTC time that sorts as text: 2026-01-31T09:30:00.123456Z."""
    from datetime import UTC

    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def report_key(ods: str, report_id: str, moment: datetime | str, fmt: ReportFormat) -> str:
    """reports/{ods}/{yyyy}/{mm}/{dd}/{id}.json|.html (``moment`` a time, or its :func:`time_key`)"""
    day = moment if isinstance(moment, str) else time_key(moment)
    return f"reports/{ods}/{day[0:4]}/{day[5:7]}/{day[8:10]}/{report_id}.{fmt}"


def zip_key(ods: str, zip_id: str) -> str:
    return f"zips/{ods}/{zip_id}.zip"


def summary_of(record: ReportRecord) -> ReportSummary:
    from tkw.reports.model import summary_fields

    return ReportSummary.model_validate(summary_fields(record) | {"time": time_key(record.time)})


def matches(summary: ReportSummary, query: ReportQuery) -> bool:
    """The filters a store may not be able to push down (verdict, correlation id, direction), and
    the exact ``since``/``until`` (sort keys may carry a report's time to the millisecond only)."""
    if query.since is not None and summary.time < time_key(query.since):
        return False
    if query.until is not None and summary.time > time_key(query.until):
        return False
    if query.verdict is not None and summary.verdict != query.verdict:
        return False
    if query.direction is not None and summary.direction != query.direction:
        return False
    return query.correlation_id is None or summary.correlation_id == query.correlation_id


def time_bounds(query: ReportQuery) -> tuple[str, str]:
    """Inclusive sort-key bounds for ``since``/``until`` (keys are ``{time_key}#{id}``, the time
    exact or cut to its millisecond: from the start of ``since``'s millisecond; :func:`matches` is exact)."""
    low = time_key(query.since)[:23] if query.since else "0000"
    high = time_key(query.until) + "#~" if query.until else "9999~"
    return low, high


def encode_page_token(sort_key: str, ods: str) -> str:
    """An opaque token for the page after ``sort_key``, bound to the organisation."""
    return base64.urlsafe_b64encode(json.dumps({"o": ods, "k": sort_key}).encode()).decode()


def decode_page_token(token: str | None, ods: str) -> str | None:
    """The sort key a token continues after; :class:`InvalidPageToken` unless issued for ``ods``."""
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        raise InvalidPageToken("the page token is not one this service issued") from None
    if not isinstance(data, dict) or data.get("o") != ods or not isinstance(data.get("k"), str):
        raise InvalidPageToken("the page token is not one this service issued for this organisation")
    return str(data["k"])
