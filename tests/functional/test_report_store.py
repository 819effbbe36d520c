"""Report storage on moto: S3 layout, the DynamoDB index, listing, isolation, links and zips.

The same contract runs against the S3 + DynamoDB adapter and the in-memory store; presigned links
are fetched over real HTTP from moto's server.
"""

from __future__ import annotations

import io
import json
import sys
import time
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit" / "reports"))
from reports_support import BUCKET, REGION, TABLE, booking_report, create_resources

from tkw.adapters.report_store import S3ReportStore
from tkw.reports import ReportQuery, ReportRecord, ReportStore, save_report
from tkw.reports.memory import InMemoryReportStore
from tkw.reports.store import InvalidPageToken

DAY = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
NOW = DAY.timestamp() + 60


def reset_clients() -> None:
    from tkw.adapters.aws import reset_clients as reset

    reset()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "TKW_AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def mocked(aws_env: None) -> Iterator[None]:
    with mock_aws():
        reset_clients()
        create_resources()
        yield
        reset_clients()


@pytest.fixture(params=["s3", "memory"])
def store(request: pytest.FixtureRequest) -> Iterator[ReportStore]:
    if request.param == "memory":
        yield InMemoryReportStore()
    else:
        request.getfixturevalue("mocked")
        yield S3ReportStore(TABLE, BUCKET)


def saved(store: ReportStore, **kwargs: Any) -> ReportRecord:
    record = booking_report(**kwargs)
    save_report(store, record)
    return record


# -- the contract, on both stores ---------------------------------------------------------------


def test_save_then_get(store: ReportStore) -> None:
    record = saved(store, broken=True, time=DAY)
    assert store.get("A1001", record.id, NOW) == record


def test_one_organisation_never_sees_anothers_reports(store: ReportStore) -> None:
    mine = saved(store, ods="A1001", time=DAY)
    saved(store, ods="B2002", time=DAY)
    assert store.get("B2002", mine.id, NOW) is None
    assert store.link("B2002", mine.id, "html", NOW) is None
    assert store.package("B2002", [mine.id], NOW) is None
    assert [r.id for r in store.list_reports("B2002", ReportQuery(), NOW).reports] != [mine.id]
    assert all(r.organisation == "B2002" for r in store.list_reports("B2002", ReportQuery(), NOW).reports)


def test_unknown_or_malformed_ids_are_not_found(store: ReportStore) -> None:
    saved(store, time=DAY)
    for report_id in ("00000000-0000-4000-8000-000000000000", "../B2002/x", "a#b", ""):
        assert store.get("A1001", report_id, NOW) is None
        assert store.link("A1001", report_id, "json", NOW) is None


def test_listing_is_newest_first_and_filters(store: ReportStore) -> None:
    records = [saved(store, time=DAY + timedelta(minutes=i), broken=(i % 2 == 1), scenario=f"s{i}") for i in range(5)]
    page = store.list_reports("A1001", ReportQuery(), NOW)
    assert [r.id for r in page.reports] == [r.id for r in reversed(records)]
    assert page.next_page_token is None
    first = page.reports[0]
    assert (first.scenario, first.verdict, first.method, first.status) == ("s4", "warnings", "POST", 200)
    assert first.correlation_id == records[4].correlation_id

    failed = store.list_reports("A1001", ReportQuery(verdict="fail"), NOW).reports
    assert [r.id for r in failed] == [records[3].id, records[1].id]

    window = ReportQuery(since=DAY + timedelta(minutes=1), until=DAY + timedelta(minutes=3))
    assert [r.id for r in store.list_reports("A1001", window, NOW).reports] == [records[i].id for i in (3, 2, 1)]

    by_correlation = ReportQuery(correlation_id=records[2].correlation_id)
    assert [r.id for r in store.list_reports("A1001", by_correlation, NOW).reports] == [records[2].id]


def test_listing_pages_through_everything_once(store: ReportStore) -> None:
    ids = {saved(store, time=DAY + timedelta(seconds=i)).id for i in range(7)}
    seen: list[str] = []
    query = ReportQuery(limit=3)
    for _ in range(5):
        page = store.list_reports("A1001", query, NOW)
        seen += [r.id for r in page.reports]
        if not page.next_page_token:
            break
        query = query.model_copy(update={"page_token": page.next_page_token})
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))


def test_page_token_of_another_organisation_is_refused(store: ReportStore) -> None:
    for i in range(3):
        saved(store, time=DAY + timedelta(seconds=i))
    token = store.list_reports("A1001", ReportQuery(limit=1), NOW).next_page_token
    assert token
    with pytest.raises(InvalidPageToken):
        store.list_reports("B2002", ReportQuery(page_token=token), NOW)
    with pytest.raises(InvalidPageToken):
        store.list_reports("A1001", ReportQuery(page_token="not-a-token"), NOW)


def test_request_ids_are_remembered_for_24_hours_per_organisation(store: ReportStore) -> None:
    rid = "5d9a3c3e-4a59-4b8e-9a8e-0c6a0f8f1b2c"
    assert store.claim_request_id("A1001", rid, NOW, "report-1") is False
    assert store.claim_request_id("A1001", rid, NOW + 10, "report-2") is True
    assert store.claim_request_id("B2002", rid, NOW + 10, "report-3") is False
    assert store.claim_request_id("A1001", rid, NOW + 86401, "report-4") is False
    assert store.claim_request_id("A1001", "x" * 2000, NOW, "report-5") is False  # long ids are hashed
    assert store.claim_request_id("A1001", "x" * 2000, NOW, "report-6") is True


def test_a_retried_report_does_not_count_its_own_claim_as_a_reuse(store: ReportStore) -> None:
    """The worker may produce a report twice (a redelivered job): its own claim is not a duplicate."""
    rid = "0f5a3c3e-4a59-4b8e-9a8e-0c6a0f8f1b2c"
    assert store.claim_request_id("A1001", rid, NOW, "report-1") is False
    assert store.claim_request_id("A1001", rid, NOW + 1, "report-1") is False
    assert store.claim_request_id("A1001", rid, NOW + 2, "report-2") is True


def test_package_zips_html_json_and_an_index(store: ReportStore) -> None:
    a = saved(store, time=DAY)
    b = saved(store, time=DAY + timedelta(minutes=1), broken=True)
    package = store.package("A1001", [a.id, b.id, a.id, "00000000-0000-4000-8000-000000000000"], NOW)
    assert package is not None
    assert package.report_ids == [b.id, a.id]
    assert package.not_found == ["00000000-0000-4000-8000-000000000000"]
    assert package.key == f"zips/A1001/{package.id}.zip"
    assert package.expires_in == 900


# -- the S3 + DynamoDB adapter specifically -----------------------------------------------------


@pytest.mark.usefixtures("mocked")
def test_s3_layout_and_index_items() -> None:
    store = S3ReportStore(TABLE, BUCKET)
    record = saved(store, time=DAY)
    keys = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {f"reports/A1001/2026/01/31/{record.id}.json"}  # the HTML is rendered on first read
    assert store.link("A1001", record.id, "html", NOW) is not None
    keys = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {f"reports/A1001/2026/01/31/{record.id}.json", f"reports/A1001/2026/01/31/{record.id}.html"}
    head = boto3.client("s3").head_object(Bucket=BUCKET, Key=f"reports/A1001/2026/01/31/{record.id}.html")
    assert head["ContentType"].startswith("text/html")

    items = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    listing = next(i for i in items if i["pk"]["S"] == "REPORTS#A1001")
    assert listing["sk"]["S"] == f"2026-01-31T09:30:00.000000Z#{record.id}"
    assert listing["organisation"]["S"] == "A1001"
    assert listing["time"]["S"] == "2026-01-31T09:30:00.000000Z"
    assert listing["verdict"]["S"] == record.verdict
    assert listing["correlation_id"]["S"] == record.correlation_id
    assert listing["scenario"]["S"] == "booking-new"
    assert listing["s3_key"]["S"] == f"reports/A1001/2026/01/31/{record.id}.json"
    assert int(listing["expires_at"]["N"]) == int(DAY.timestamp()) + 30 * 86400
    assert any(i["pk"]["S"] == f"REPORT#A1001#{record.id}" for i in items)

    store.claim_request_id("A1001", "5d9a3c3e-4a59-4b8e-9a8e-0c6a0f8f1b2c", NOW, record.id)
    claim = boto3.client("dynamodb").get_item(
        TableName=TABLE, Key={"pk": {"S": "REQID#A1001"}, "sk": {"S": "5d9a3c3e-4a59-4b8e-9a8e-0c6a0f8f1b2c"}}
    )["Item"]
    assert int(claim["expires_at"]["N"]) == int(NOW) + 86400


@pytest.mark.usefixtures("mocked")
def test_expired_index_items_are_treated_as_gone() -> None:
    store = S3ReportStore(TABLE, BUCKET, retention_days=1)
    record = saved(store, time=DAY)
    later = DAY.timestamp() + 2 * 86400  # moto, like DynamoDB, has not deleted the item yet
    assert store.list_reports("A1001", ReportQuery(), later).reports == []
    assert store.get("A1001", record.id, later) is None
    assert store.link("A1001", record.id, "html", later) is None


@pytest.mark.usefixtures("mocked")
def test_deployed_links_are_regional_sigv4_and_short_lived() -> None:
    record = saved(S3ReportStore(TABLE, BUCKET), time=DAY)
    url = S3ReportStore(TABLE, BUCKET, link_expiry_seconds=300).link("A1001", record.id, "html", NOW)
    assert url is not None
    parsed = urllib.parse.urlsplit(url)
    params = urllib.parse.parse_qs(parsed.query)
    assert parsed.scheme == "https" and parsed.netloc == f"{BUCKET}.s3.{REGION}.amazonaws.com"
    assert parsed.path == f"/reports/A1001/2026/01/31/{record.id}.html"
    assert params["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and params["X-Amz-Expires"] == ["300"]
    capped = S3ReportStore(TABLE, BUCKET, link_expiry_seconds=3600).link("A1001", record.id, "json", NOW)
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(capped or "").query)["X-Amz-Expires"] == ["900"]


# -- links fetched over HTTP from moto's server -------------------------------------------------


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def served_store(moto_server: str, aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3ReportStore]:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    reset_clients()
    suffix = str(time.time_ns())
    table, bucket = f"{TABLE}-{suffix}", f"{BUCKET}-{suffix}"
    create_resources(table, bucket)
    yield S3ReportStore(table, bucket)
    reset_clients()


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()


def test_presigned_report_links_serve_the_report(served_store: S3ReportStore) -> None:
    record = saved(served_store, broken=True, time=DAY)
    status, headers, body = fetch(served_store.link("A1001", record.id, "html", NOW) or "")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert f'filename="tkw-report-{record.id}.html"' in headers["content-disposition"]
    assert record.id in body.decode() and ">Failed</span>" in body.decode()
    status, _, body = fetch(served_store.link("A1001", record.id, "json", NOW) or "")
    assert status == 200 and ReportRecord.model_validate(json.loads(body)) == record


def test_presigned_zip_link_serves_every_report_and_an_index(served_store: S3ReportStore) -> None:
    records = [saved(served_store, time=DAY + timedelta(minutes=i), broken=i == 1) for i in range(3)]
    package = served_store.package("A1001", [r.id for r in records], NOW)
    assert package is not None
    status, headers, body = fetch(package.url)
    assert status == 200 and headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        names = set(archive.namelist())
        assert names == {"index.html"} | {f"{r.id}.{ext}" for r in records for ext in ("html", "json")}
        index = archive.read("index.html").decode()
        for record in records:
            assert f'href="{record.id}.html"' in index and f'href="{record.id}.json"' in index
            assert ReportRecord.from_json(archive.read(f"{record.id}.json")) == record
            assert record.id in archive.read(f"{record.id}.html").decode()
