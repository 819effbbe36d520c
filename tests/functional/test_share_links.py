"""Share links for assurance, on moto: they open without credentials, last ShareLinkDays, can be
withdrawn, and say so plainly (an HTML page, never an S3 error) when they no longer work."""

from __future__ import annotations

import hashlib
import json
import sys
import urllib.request
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bars_support import organisation

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit" / "reports"))
from reports_support import BUCKET, TABLE, booking_report, create_resources, moto_server

from tkw.access import OPEN, Caller
from tkw.adapters.report_store import S3ReportStore
from tkw.adapters.share_store import DynamoShareStore
from tkw.fhir.outcome import BarsError
from tkw.http import ApiRequest, loggable_path
from tkw.reports import ReportRecord, save_report
from tkw.reports.share_api import list_shares, open_share, revoke_share, share_report, share_zip
from tkw.settings import Settings

DAY = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
NOW = DAY.timestamp() + 3600
WEEK = 7 * 86400
SETTINGS = Settings()  # ShareLinkDays: 7 by default


@pytest.fixture
def stores(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[S3ReportStore, DynamoShareStore]]:
    """moto as a real server: a presigned link must download over HTTP, as a reviewer's browser would."""
    with moto_server(monkeypatch):
        # moto's backends outlive a server in the same process: fresh names per test.
        table, bucket = f"{TABLE}-{uuid.uuid4().hex[:8]}", f"{BUCKET}-{uuid.uuid4().hex[:8]}"
        create_resources(table, bucket)
        yield S3ReportStore(table, bucket), DynamoShareStore(table)


@pytest.fixture
def reports(stores: tuple[S3ReportStore, DynamoShareStore]) -> list[ReportRecord]:
    records = [booking_report(time=DAY + timedelta(minutes=i)) for i in range(2)]
    records.append(booking_report(ods="B2002", time=DAY))
    for record in records:
        save_report(stores[0], record)
    return records


def call(path: str, *, ods: str | None = "A1001", method: str = "POST", body: Any = None) -> ApiRequest:
    headers = {"NHSD-End-User-Organisation": organisation(ods)} if ods else {}
    return ApiRequest(
        method=method,
        path=path,
        headers={k.lower(): (v,) for k, v in headers.items()},
        body=json.dumps(body).encode() if body is not None else None,
        base_url="https://abc.execute-api.eu-west-2.amazonaws.com/v1",
    )


def anonymous(url: str) -> ApiRequest:
    """What a browser sends for the link: no headers at all."""
    return ApiRequest(method="GET", path=url.split("/v1", 1)[1])


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def share(stores: tuple[S3ReportStore, DynamoShareStore], report: ReportRecord, now: float = NOW) -> dict[str, Any]:
    response = share_report(call(f"/tkw/reports/{report.id}/share"), OPEN, *stores, SETTINGS, report.id, now)
    assert response.status == 201, response.body
    body: dict[str, Any] = response.body
    return body


def test_a_share_link_opens_the_report_without_credentials_and_records_the_opening(
    stores: tuple[S3ReportStore, DynamoShareStore], reports: list[ReportRecord]
) -> None:
    made = share(stores, reports[0])
    assert made["url"].startswith("https://abc.execute-api.eu-west-2.amazonaws.com/v1/tkw/shared/")
    assert made["expires_at"] == (DAY + timedelta(hours=1, days=7)).isoformat().replace("+00:00", "Z")
    token = token_of(made["url"])
    assert len(token) >= 22  # at least 128 bits, URL-safe base64

    opened = open_share(anonymous(made["url"]), stores[0], stores[1], token, NOW + 3 * 86400)
    assert opened.status == 200
    assert opened.content_type.startswith("text/html")
    assert reports[0].id in opened.body and "<!DOCTYPE html>" in opened.body
    assert opened.headers["Referrer-Policy"] == "no-referrer"

    listed = list_shares(call("/tkw/shares", method="GET"), OPEN, stores[1], NOW + 3 * 86400).body["shares"]
    assert [(s["id"], s["status"], s["open_count"]) for s in listed] == [(made["id"], "active", 1)]
    assert listed[0]["opened_at"] == (DAY + timedelta(hours=1, days=3)).isoformat().replace("+00:00", "Z")
    assert token not in json.dumps(listed)


def test_the_token_is_stored_only_as_its_hash(
    stores: tuple[S3ReportStore, DynamoShareStore], reports: list[ReportRecord]
) -> None:
    import boto3

    made = share(stores, reports[0])
    token = token_of(made["url"])
    items = boto3.client("dynamodb", region_name="eu-west-2").scan(TableName=stores[1].table_name)["Items"]
    # Report records are zlib-compressed JSON in their items: look inside them too.
    assert token not in json.dumps(items, default=lambda blob: zlib.decompress(blob).decode())
    assert made["id"] == hashlib.sha256(token.encode()).hexdigest()
    share_items = [i for i in items if i["pk"]["S"].startswith("SHARE")]
    assert len(share_items) == 2 and all(int(i["expires_at"]["N"]) > NOW + WEEK for i in share_items)  # TTL set


def test_a_link_expires_after_share_link_days_with_a_clear_page(
    stores: tuple[S3ReportStore, DynamoShareStore], reports: list[ReportRecord]
) -> None:
    made = share(stores, reports[0])
    token = token_of(made["url"])
    assert open_share(anonymous(made["url"]), *stores, token, NOW + WEEK - 1).status == 200
    expired = open_share(anonymous(made["url"]), *stores, token, NOW + WEEK)
    assert expired.status == 410
    assert expired.content_type.startswith("text/html")
    assert "This link has expired" in expired.body and reports[0].id not in expired.body
    listed = list_shares(call("/tkw/shares", method="GET"), OPEN, stores[1], NOW + WEEK).body["shares"]
    assert listed[0]["status"] == "expired"


def test_share_link_days_is_what_the_template_parameter_says() -> None:
    short = Settings.from_env({"SHARE_LINK_DAYS": "2"})
    assert short.share_link_days == 2
    for bad in ("0", "31"):
        with pytest.raises(ValueError, match="share_link_days"):
            Settings.from_env({"SHARE_LINK_DAYS": bad})


def test_a_withdrawn_link_stops_at_once_by_token_or_by_id(
    stores: tuple[S3ReportStore, DynamoShareStore], reports: list[ReportRecord]
) -> None:
    for by_token in (True, False):
        made = share(stores, reports[0])
        token = token_of(made["url"])
        key = token if by_token else made["id"]
        revoked = revoke_share(call(f"/tkw/shares/{key}", method="DELETE"), OPEN, stores[1], key, NOW + 60)
        assert revoked.status == 204
        page = open_share(anonymous(made["url"]), *stores, token, NOW + 120)
        assert page.status == 410 and "This link has been withdrawn" in page.body


def test_an_unknown_link_is_a_clear_page_not_an_error(stores: tuple[S3ReportStore, DynamoShareStore]) -> None:
    for token in ("not-a-token", "A" * 43, "x" * 5000):
        page = open_share(anonymous("/v1/tkw/shared/x"), *stores, token, NOW)
        assert page.status == 404 and page.content_type.startswith("text/html")
        assert "This link is not valid" in page.body


def test_a_zip_share_redirects_to_a_fresh_short_presigned_download(
    stores: tuple[S3ReportStore, DynamoShareStore], reports: list[ReportRecord]
) -> None:
    ids = [reports[0].id, reports[1].id, reports[2].id, str(uuid.uuid4())]  # one of B2002's, one unknown
    made = share_zip(call("/tkw/reports/share", body={"ids": ids}), OPEN, *stores, SETTINGS, NOW)
    assert made.status == 201
    assert made.body["report_ids"] == ids[:2] and made.body["not_found"] == ids[2:]
    token = token_of(made.body["url"])
    first = open_share(anonymous(made.body["url"]), *stores, token, NOW + 86400)
    second = open_share(anonymous(made.body["url"]), *stores, token, NOW + 86400)
    assert first.status == second.status == 302
    location = first.headers["Location"]
    assert "X-Amz-Expires=" in location and location != second.headers["Location"]
    with urllib.request.urlopen(location) as downloaded:
        assert downloaded.read()[:2] == b"PK"


def test_only_the_callers_organisation_shares_lists_and_withdraws(
    stores: tuple[S3ReportStore, DynamoShareStore], reports: list[ReportRecord]
) -> None:
    bound_b = Caller(organisations=frozenset({"B2002"}), application="B")
    b_report = reports[2]
    # B may not share A's report, whichever organisation it names.
    for ods in ("A1001", "B2002"):
        with pytest.raises(BarsError) as refused:
            share_report(
                call(f"/tkw/reports/{reports[0].id}/share", ods=ods), bound_b, *stores, SETTINGS, reports[0].id, NOW
            )
        assert refused.value.status == 404
    mine = share_report(
        call(f"/tkw/reports/{b_report.id}/share", ods="B2002"), bound_b, *stores, SETTINGS, b_report.id, NOW
    )
    assert mine.status == 201 and mine.body["kind"] == "report"
    theirs = share(stores, reports[0])
    listed = list_shares(call("/tkw/shares", ods="B2002", method="GET"), bound_b, stores[1], NOW).body
    assert [s["id"] for s in listed["shares"]] == [mine.body["id"]]
    with pytest.raises(BarsError) as refused:
        revoke_share(call("/tkw/shares/x", ods="B2002", method="DELETE"), bound_b, stores[1], theirs["id"], NOW)
    assert refused.value.status == 404
    assert open_share(anonymous(theirs["url"]), *stores, token_of(theirs["url"]), NOW).status == 200


def test_logged_paths_never_carry_a_share_token() -> None:
    token = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5"
    for path in (f"/tkw/shared/{token}", f"/tkw/shares/{token}", f"/v1/tkw/shared/{token}?x=1"):
        assert token not in loggable_path(path)
    assert loggable_path("/tkw/reports/abc/share") == "/tkw/reports/abc/share"
