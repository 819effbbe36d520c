"""Report storage on moto: the DynamoDB items, S3 objects made on demand, listing, isolation,
duplicate X-Request-Id claims, links and zips.

The same contract runs against the S3 + DynamoDB adapter and the in-memory store; presigned links
are fetched over real HTTP from moto's server.
"""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import time
import urllib.parse
import urllib.request
import zipfile
import zlib
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
from tkw.reports import ReportQuery, ReportRecord, ReportStore, new_report_id, save_report
from tkw.reports.memory import InMemoryReportStore
from tkw.reports.store import InvalidPageToken, RequestIdClaim

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


def large_report(**kwargs: Any) -> ReportRecord:
    """A booking whose Patient narrative carries ~600 KB of base64 (an attached scan, say): over
    300 KB even zlib-compressed, so too large to live in a DynamoDB item."""
    record = booking_report(**kwargs)
    bundle = json.loads(record.exchange.request_body or "{}")
    scan = base64.b64encode(os.urandom(450_000)).decode()
    bundle["entry"][2]["resource"]["text"] = {"status": "generated", "div": f"<div>{scan}</div>"}
    exchange = record.exchange.model_copy(update={"request_body": json.dumps(bundle)})
    return record.model_copy(update={"exchange": exchange})


def timed_report(at: datetime, **kwargs: Any) -> ReportRecord:
    """A report as the report worker makes it: its id (a UUIDv7) issued when its request arrived."""
    record = booking_report(time=at, **kwargs)
    return record.model_copy(update={"id": new_report_id(at.timestamp())})


def s3_keys(bucket: str = BUCKET) -> set[str]:
    return {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])}


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


def claim(request_id: str, report_id: str, at: float, ods: str = "A1001") -> RequestIdClaim:
    return RequestIdClaim(ods, request_id, report_id, at)


def test_request_id_reuses_are_found_across_batches(store: ReportStore) -> None:
    rid, other = "7a1e0c3e-4a59-4b8e-9a8e-0c6a0f8f1b2c", "8b2f0c3e-4a59-4b8e-9a8e-0c6a0f8f1b2c"
    first_batch = [claim(rid, "report-1", NOW), claim(other, "report-2", NOW)]
    assert store.claim_request_ids(first_batch) == set()
    records = {c.report_id: booking_report(time=DAY).model_copy(update={"id": c.report_id}) for c in first_batch}
    assert store.save_all(list(records.values()), first_batch) == []

    second_batch = [
        claim(rid, "report-3", NOW + 10),  # reused within 24 h
        claim(rid, "report-4", NOW + 86401),  # the first claim lapsed a day after its request
        claim(rid, "report-5", NOW + 10, ods="B2002"),  # another organisation's ids are its own
        claim(other, "report-2", NOW + 20),  # a redelivered job: its own claim
        claim("x" * 2000, "report-6", NOW),  # long ids are hashed in the key
        claim("", "report-8", NOW),  # no X-Request-Id: nothing to reuse
        claim("", "report-9", NOW + 1),
    ]
    assert store.claim_request_ids(second_batch) == {"report-3"}
    # Nothing is remembered until the records are stored with their claims.
    assert store.claim_request_ids([claim("x" * 2000, "report-7", NOW + 1)]) == set()


def test_request_id_reuses_within_one_batch_flag_the_later_request(store: ReportStore) -> None:
    rid = "9c3a0c3e-4a59-4b8e-9a8e-0c6a0f8f1b2c"
    batch = [claim(rid, "report-late", NOW + 5), claim(rid, "report-early", NOW), claim(rid, "report-early", NOW)]
    assert store.claim_request_ids(batch) == {"report-late"}

    original = booking_report(time=DAY).model_copy(update={"id": "report-early"})
    assert store.save_all([original], [c for c in batch if c.report_id == "report-early"]) == []
    assert store.claim_request_ids([claim(rid, "report-next", NOW + 60)]) == {"report-next"}
    assert store.claim_request_id("A1001", rid, NOW + 60, "report-next") is True  # strict mode sees it too
    assert store.claim_request_ids([claim(rid, "report-early", NOW + 60)]) == set()


def test_a_claim_is_stored_only_with_its_report(store: ReportStore) -> None:
    """A claim whose report was not stored is not remembered: that report is retried with it."""
    rid = "ad4b0c3e-4a59-4b8e-9a8e-0c6a0f8f1b2c"
    assert store.save_all([booking_report(time=DAY)], [claim(rid, "report-missing", NOW)]) == []
    assert store.claim_request_ids([claim(rid, "report-other", NOW + 1)]) == set()


def test_package_zips_html_json_and_an_index(store: ReportStore) -> None:
    a = saved(store, time=DAY)
    b = saved(store, time=DAY + timedelta(minutes=1), broken=True)
    package = store.package("A1001", [a.id, b.id, a.id, "00000000-0000-4000-8000-000000000000"], NOW)
    assert package is not None
    assert package.report_ids == [b.id, a.id]
    assert package.not_found == ["00000000-0000-4000-8000-000000000000"]
    assert package.key == f"zips/A1001/{package.id}.zip"
    assert package.expires_in == 900


def test_reports_whose_ids_carry_their_time_list_page_and_read_like_any_other(store: ReportStore) -> None:
    older = saved(store, time=DAY)  # an id that does not carry its time
    timed = [timed_report(DAY + timedelta(seconds=10 + i), broken=(i == 1)) for i in range(5)]
    for record in timed:
        save_report(store, record)
    newest_first = [r.id for r in reversed([older, *timed])]
    assert [r.id for r in store.list_reports("A1001", ReportQuery(), NOW).reports] == newest_first
    seen: list[str] = []
    query = ReportQuery(limit=2)
    while True:
        page = store.list_reports("A1001", query, NOW)
        seen += [r.id for r in page.reports]
        if not page.next_page_token:
            break
        query = query.model_copy(update={"page_token": page.next_page_token})
    assert seen == newest_first
    failed = store.list_reports("A1001", ReportQuery(verdict="fail"), NOW).reports
    assert [r.id for r in failed] == [timed[1].id]
    for record in timed:
        assert store.get("A1001", record.id, NOW) == record
        assert store.get("B2002", record.id, NOW) is None
        assert store.link("A1001", record.id, "html", NOW) is not None
    package = store.package("A1001", [timed[0].id, older.id, timed[4].id], NOW)
    assert package is not None and package.report_ids == [timed[4].id, timed[0].id, older.id]


def test_since_and_until_are_exact_within_a_millisecond(store: ReportStore) -> None:
    at = DAY + timedelta(microseconds=123_400)
    first, second = timed_report(at), timed_report(at + timedelta(microseconds=300))
    for record in (first, second):
        save_report(store, record)

    def listed(**bounds: datetime) -> set[str]:
        return {r.id for r in store.list_reports("A1001", ReportQuery(**bounds), NOW).reports}

    assert listed(since=at) == listed(until=at + timedelta(microseconds=300)) == {first.id, second.id}
    assert listed(since=at + timedelta(microseconds=1)) == {second.id}
    assert listed(until=at + timedelta(microseconds=299)) == {first.id}
    assert listed(since=at + timedelta(microseconds=301)) == set()
    assert listed(until=at - timedelta(microseconds=1)) == set()


# -- the S3 + DynamoDB adapter specifically -----------------------------------------------------


@pytest.mark.usefixtures("mocked")
def test_a_report_whose_id_carries_its_time_is_one_item() -> None:
    store = S3ReportStore(TABLE, BUCKET)
    at = DAY + timedelta(microseconds=123_456)
    record = timed_report(at)
    assert store.save_all([record]) == []
    items = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    (item,) = items  # no lookup item: the id finds its listing item
    assert (item["pk"]["S"], item["sk"]["S"]) == ("REPORTS#A1001", f"2026-01-31T09:30:00.123000Z#{record.id}")
    assert ReportRecord.from_json(zlib.decompress(item["record"]["B"])) == record
    assert json.loads(item["summary"]["S"])["time"] == "2026-01-31T09:30:00.123456Z"
    assert int(item["expires_at"]["N"]) == int(at.timestamp()) + 30 * 86400
    assert store.get("A1001", record.id, NOW) == record

    json_key, html_key = (f"reports/A1001/2026/01/31/{record.id}.{fmt}" for fmt in ("json", "html"))
    assert store.link("A1001", record.id, "json", NOW) is not None
    assert store.link("A1001", record.id, "html", NOW) is not None
    assert s3_keys() == {json_key, html_key}
    (item,) = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    assert set(item["in_s3"]["SS"]) == {"json", "html"}
    listed = store.list_reports("A1001", ReportQuery(), NOW).reports
    assert [r.id for r in listed] == [record.id] and listed[0].time == "2026-01-31T09:30:00.123456Z"

    later = at.timestamp() + 31 * 86400
    assert store.get("A1001", record.id, later) is None
    assert store.list_reports("A1001", ReportQuery(), later).reports == []

    large = large_report(time=at + timedelta(seconds=1)).model_copy(update={"id": new_report_id(at.timestamp() + 1)})
    assert store.save_all([large]) == []
    assert f"reports/A1001/2026/01/31/{large.id}.json" in s3_keys()
    assert store.get("A1001", large.id, NOW) == large


@pytest.mark.usefixtures("mocked")
def test_a_record_lives_in_its_item_and_s3_objects_are_made_on_first_read() -> None:
    store = S3ReportStore(TABLE, BUCKET)
    record = saved(store, time=DAY)
    assert s3_keys() == set()  # storing a report makes no S3 object

    items = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    listing = next(i for i in items if i["pk"]["S"] == "REPORTS#A1001")
    assert listing["sk"]["S"] == f"2026-01-31T09:30:00.000000Z#{record.id}"
    assert listing["verdict"]["S"] == record.verdict
    assert listing["correlation_id"]["S"] == record.correlation_id
    assert "direction" not in listing  # inbound
    summary = json.loads(listing["summary"]["S"])
    assert (summary["id"], summary["organisation"]) == (record.id, "A1001")
    assert (summary["time"], summary["scenario"]) == ("2026-01-31T09:30:00.000000Z", "booking-new")
    assert int(listing["expires_at"]["N"]) == int(DAY.timestamp()) + 30 * 86400
    by_id = next(i for i in items if i["pk"]["S"] == f"REPORT#A1001#{record.id}")
    assert by_id["sk"]["S"] == "REPORT"
    assert ReportRecord.from_json(zlib.decompress(by_id["record"]["B"])) == record
    assert int(by_id["expires_at"]["N"]) == int(DAY.timestamp()) + 30 * 86400

    json_key, html_key = (f"reports/A1001/2026/01/31/{record.id}.{fmt}" for fmt in ("json", "html"))
    assert store.link("A1001", record.id, "json", NOW) is not None
    assert s3_keys() == {json_key}
    assert store.link("A1001", record.id, "html", NOW) is not None
    assert s3_keys() == {json_key, html_key}
    s3 = boto3.client("s3")
    assert ReportRecord.from_json(s3.get_object(Bucket=BUCKET, Key=json_key)["Body"].read()) == record
    head = s3.head_object(Bucket=BUCKET, Key=html_key)
    assert head["ContentType"].startswith("text/html")
    by_id = boto3.client("dynamodb").get_item(
        TableName=TABLE, Key={"pk": {"S": f"REPORT#A1001#{record.id}"}, "sk": {"S": "REPORT"}}
    )["Item"]
    assert set(by_id["in_s3"]["SS"]) == {"json", "html"}

    # Written once: a second link does not write the object again.
    s3.put_object(Bucket=BUCKET, Key=html_key, Body=b"marker")
    assert store.link("A1001", record.id, "html", NOW) is not None
    assert s3.get_object(Bucket=BUCKET, Key=html_key)["Body"].read() == b"marker"
    # A report stored again (a redelivered job) is rendered afresh on its next read.
    save_report(store, record)
    assert store.link("A1001", record.id, "html", NOW) is not None
    assert record.id in s3.get_object(Bucket=BUCKET, Key=html_key)["Body"].read().decode()

    store.claim_request_id("A1001", "5d9a3c3e-4a59-4b8e-9a8e-0c6a0f8f1b2c", NOW, record.id)
    claim = boto3.client("dynamodb").get_item(
        TableName=TABLE, Key={"pk": {"S": "REQID#A1001"}, "sk": {"S": "5d9a3c3e-4a59-4b8e-9a8e-0c6a0f8f1b2c"}}
    )["Item"]
    assert int(claim["expires_at"]["N"]) == int(NOW) + 86400


@pytest.mark.usefixtures("mocked")
def test_reports_stored_before_records_lived_in_items_still_read() -> None:
    """Items as the previous version wrote them (a deployed table keeps them 30 days): the record
    in S3, the listing one attribute per field."""
    record = booking_report(time=DAY)
    json_key, html_key = (f"reports/A1001/2026/01/31/{record.id}.{fmt}" for fmt in ("json", "html"))
    boto3.client("s3").put_object(Bucket=BUCKET, Key=json_key, Body=record.to_json().encode())
    expires_at = {"N": str(int(DAY.timestamp()) + 30 * 86400)}
    for item in (
        {
            "pk": {"S": "REPORTS#A1001"},
            "sk": {"S": f"2026-01-31T09:30:00.000000Z#{record.id}"},
            "report_id": {"S": record.id},
            "organisation": {"S": "A1001"},
            "time": {"S": "2026-01-31T09:30:00.000000Z"},
            "verdict": {"S": record.verdict},
            "errors": {"N": "0"},
            "warnings": {"N": "1"},
            "status": {"N": "200"},
            "method": {"S": "POST"},
            "scenario": {"S": "booking-new"},
            "s3_key": {"S": json_key},
            "expires_at": expires_at,
        },
        {
            "pk": {"S": f"REPORT#A1001#{record.id}"},
            "sk": {"S": "REPORT"},
            "report_id": {"S": record.id},
            "time": {"S": "2026-01-31T09:30:00.000000Z"},
            "s3_key": {"S": json_key},
            "html_key": {"S": html_key},
            "expires_at": expires_at,
        },
    ):
        boto3.client("dynamodb").put_item(TableName=TABLE, Item=item)
    store = S3ReportStore(TABLE, BUCKET)
    (listed,) = store.list_reports("A1001", ReportQuery(), NOW).reports
    assert (listed.id, listed.verdict, listed.status, listed.scenario, listed.warnings) == (
        record.id,
        record.verdict,
        200,
        "booking-new",
        1,
    )
    assert store.get("A1001", record.id, NOW) == record
    assert store.link("A1001", record.id, "json", NOW) is not None
    assert store.link("A1001", record.id, "html", NOW) is not None
    assert s3_keys() == {json_key, html_key}
    package = store.package("A1001", [record.id], NOW)
    assert package is not None and package.report_ids == [record.id]


@pytest.mark.usefixtures("mocked")
def test_a_record_too_large_for_an_item_goes_to_s3_and_reads_back() -> None:
    store = S3ReportStore(TABLE, BUCKET)
    large, small = large_report(time=DAY), booking_report(time=DAY + timedelta(minutes=1))
    assert store.save_all([large, small]) == []
    json_key = f"reports/A1001/2026/01/31/{large.id}.json"
    assert s3_keys() == {json_key}
    by_id = boto3.client("dynamodb").get_item(
        TableName=TABLE, Key={"pk": {"S": f"REPORT#A1001#{large.id}"}, "sk": {"S": "REPORT"}}
    )["Item"]
    assert "record" not in by_id and by_id["in_s3"]["SS"] == ["json"]

    assert store.get("A1001", large.id, NOW) == large
    assert store.get("A1001", small.id, NOW) == small
    assert store.link("A1001", large.id, "json", NOW) is not None
    assert store.link("A1001", large.id, "html", NOW) is not None
    assert s3_keys() == {json_key, f"reports/A1001/2026/01/31/{large.id}.html"}
    package = store.package("A1001", [large.id, small.id], NOW)
    assert package is not None and package.report_ids == [small.id, large.id]
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=package.key)["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert ReportRecord.from_json(archive.read(f"{large.id}.json")) == large
        assert ReportRecord.from_json(archive.read(f"{small.id}.json")) == small


class Throttled:
    """A DynamoDB client that, like DynamoDB under load, leaves the last item of each BatchWriteItem
    unprocessed the first ``times`` times (moto itself never does)."""

    def __init__(self, times: int) -> None:
        self.real = boto3.client("dynamodb")
        self.times = times
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        self.calls += 1
        ((table, writes),) = RequestItems.items()
        if self.times == 0:
            return dict(self.real.batch_write_item(RequestItems=RequestItems))
        self.times -= 1
        if len(writes) > 1:
            self.real.batch_write_item(RequestItems={table: writes[:-1]})
        return {"UnprocessedItems": {table: writes[-1:]}}


@pytest.mark.usefixtures("mocked")
def test_unprocessed_items_are_retried_then_reported_as_failed() -> None:
    retried = Throttled(times=2)
    record = booking_report(time=DAY)
    assert S3ReportStore(TABLE, BUCKET, dynamodb=retried).save_all([record]) == []
    assert retried.calls == 3
    assert S3ReportStore(TABLE, BUCKET).get("A1001", record.id, NOW) == record

    never = Throttled(times=100)
    records = [booking_report(time=DAY + timedelta(minutes=i)) for i in range(2)]
    # The last item of the batch is the second record's id item: that report failed, the first is stored.
    assert S3ReportStore(TABLE, BUCKET, dynamodb=never).save_all(records) == [records[1].id]
    assert S3ReportStore(TABLE, BUCKET).get("A1001", records[0].id, NOW) == records[0]


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
    assert s3_keys(served_store.bucket) == set()  # made by the first link
    status, headers, body = fetch(served_store.link("A1001", record.id, "html", NOW) or "")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert f'filename="tkw-report-{record.id}.html"' in headers["content-disposition"]
    assert record.id in body.decode() and ">Failed</span>" in body.decode()
    status, headers, body = fetch(served_store.link("A1001", record.id, "json", NOW) or "")
    assert status == 200 and headers["content-type"] == "application/json"
    assert f'filename="tkw-report-{record.id}.json"' in headers["content-disposition"]
    assert ReportRecord.model_validate(json.loads(body)) == record
    status, _, again = fetch(served_store.link("A1001", record.id, "json", NOW) or "")
    assert status == 200 and again == body


def test_presigned_links_of_a_report_too_large_for_an_item(served_store: S3ReportStore) -> None:
    record = large_report(time=DAY)
    save_report(served_store, record)
    status, _, body = fetch(served_store.link("A1001", record.id, "json", NOW) or "")
    assert status == 200 and ReportRecord.from_json(body) == record
    status, _, body = fetch(served_store.link("A1001", record.id, "html", NOW) or "")
    assert status == 200 and record.id in body.decode()


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


@pytest.mark.usefixtures("mocked")
def test_the_report_store_leaves_request_validation_to_the_service_which_still_refuses_bad_items() -> None:
    """The report store's DynamoDB client skips botocore's client-side validation (a tenth of the
    report worker's time); a malformed item is still refused, by the service, and not stored."""
    from botocore.exceptions import ClientError, ParamValidationError

    from tkw.adapters.aws import client

    store = S3ReportStore(TABLE, BUCKET)
    number_as_int = {"pk": {"S": "REPORTS#A1001"}, "sk": {"S": "x"}, "expires_at": {"N": 5}}
    with pytest.raises(ParamValidationError):  # every other adapter's client still validates
        client("dynamodb").put_item(TableName=TABLE, Item=number_as_int)
    with pytest.raises(ClientError):
        store.dynamodb.put_item(TableName=TABLE, Item=number_as_int)
    with pytest.raises(ClientError) as refused:
        store.dynamodb.put_item(TableName=TABLE, Item={"pk": {"S": "REPORTS#A1001"}})  # no sort key
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert boto3.client("dynamodb").scan(TableName=TABLE)["Items"] == []
    assert store.save_all([timed_report(DAY)]) == []  # its own items go through
