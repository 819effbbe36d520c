"""The report worker's production of batches on moto: duplicate X-Request-Id findings within a
batch and across batches, redelivered jobs, reports read back; the same on the in-memory store."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit" / "reports"))
from bars_support import bars_headers
from reports_support import BUCKET, REGION, TABLE, booking_exchange, create_resources

from tkw.adapters.report_store import S3ReportStore
from tkw.encoded_headers import decode_target_identifier
from tkw.reports import ReportJob, ReportRecord, ReportStore, new_report_id
from tkw.reports.memory import InMemoryReportStore
from tkw.reports.production import produce_reports
from tkw.routes import Operation
from tkw.validation import Finding, ValidationInput, validate
from tkw.validation.profile import profile_findings

RECEIVED = 1_767_225_600.0  # 2026-01-01T00:00:00Z
DUPLICATE = "header.x-request-id.duplicate"


@pytest.fixture(params=["s3", "memory"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReportStore]:
    if request.param == "memory":
        yield InMemoryReportStore()
        return
    for name in ("AWS_ENDPOINT_URL", "TKW_AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    from tkw.adapters.aws import reset_clients

    with mock_aws():
        reset_clients()
        create_resources()
        yield S3ReportStore(TABLE, BUCKET)
        reset_clients()


def job(request_id: str, at: float, ods: str = "A1001", report_id: str | None = None) -> ReportJob:
    request, response, bundle = booking_exchange(ods=ods, **{"X-Request-Id": request_id})
    return ReportJob(
        report_id=report_id or new_report_id(at),
        organisation=ods,
        received=at,
        operation=Operation.PROCESS_MESSAGE,
        request=request,
        response=response,
        scenario="booking-new",
        bundle=bundle,
    )


def duplicate_finding(store: ReportStore, produced: ReportJob) -> bool:
    """Whether the stored report says its X-Request-Id was reused (the finding failed)."""
    record = store.get(produced.organisation, produced.report_id, produced.received + 60)
    assert isinstance(record, ReportRecord), f"report {produced.report_id} was not stored"
    (finding,) = [f for f in record.findings if f.id == DUPLICATE]
    if not finding.passed:
        assert finding.bars_code == "REC_CONFLICT" and "X-Request-Id" in finding.location
    return not finding.passed


def test_a_reuse_within_one_batch_flags_the_later_request(store: ReportStore) -> None:
    rid = str(uuid.uuid4())
    original, reuse, fresh = job(rid, RECEIVED), job(rid, RECEIVED + 1), job(str(uuid.uuid4()), RECEIVED + 2)
    assert produce_reports([reuse, fresh, original], store) == []  # order of delivery is not of arrival
    assert [duplicate_finding(store, j) for j in (original, reuse, fresh)] == [False, True, False]


def test_a_reuse_in_a_later_batch_is_flagged_and_a_redelivery_is_not(store: ReportStore) -> None:
    rid = str(uuid.uuid4())
    original = job(rid, RECEIVED)
    assert produce_reports([original], store) == []

    reuse = job(rid, RECEIVED + 30)
    other_organisation = job(rid, RECEIVED + 30, ods="B2002")
    next_day = job(rid, RECEIVED + 86_401)
    assert produce_reports([original, reuse, other_organisation], store) == []  # original: redelivered
    assert [duplicate_finding(store, j) for j in (original, reuse, other_organisation)] == [False, True, False]
    third = job(rid, RECEIVED + 60)
    assert produce_reports([third], store) == []
    assert duplicate_finding(store, third)
    # A day after the original request the X-Request-Id is free again (the reuses did not take it over).
    assert produce_reports([next_day], store) == []
    assert not duplicate_finding(store, next_day)


def fresh_validation(produced: ReportJob, seen_before: bool = False) -> list[Finding]:
    """Every check of the job, run from scratch (nothing shared with other requests)."""
    target = decode_target_identifier(produced.request.header("NHSD-Target-Identifier") or "")
    return [
        *validate(ValidationInput(produced.operation, produced.request, produced.bundle, target, seen_before, True)),
        *profile_findings(produced.bundle),
    ]


def test_a_repeated_request_gets_the_report_a_fresh_check_gives(store: ReportStore) -> None:
    # A CI suite replays one booking with a fresh X-Request-Id: the report worker shares the content
    # checks between the repeats, and each report must still read as if checked on its own.
    first = job(str(uuid.uuid4()), RECEIVED)
    repeat = job(str(uuid.uuid4()), RECEIVED + 1)
    bad_id = job("not-a-uuid", RECEIVED + 2)
    reuse = job(first.request.request_id or "", RECEIVED + 3)
    assert produce_reports([first, repeat, bad_id, reuse], store) == []
    for produced, seen_before in ((first, False), (repeat, False), (bad_id, False), (reuse, True)):
        record = store.get(produced.organisation, produced.report_id, RECEIVED + 60)
        assert record is not None
        assert record.findings == fresh_validation(produced, seen_before)
        assert record.request_id == produced.request.request_id
        assert record.judged_against is not None and record.judged_against.application
    transaction = {f.id: f.passed for f in store.get("A1001", bad_id.report_id, RECEIVED + 60).findings}  # type: ignore[union-attr]
    assert transaction["header.x-request-id"] is False and transaction[DUPLICATE] is True


def test_requests_that_differ_beyond_their_ids_are_checked_apart(store: ReportStore) -> None:
    # Same body, another target (another Application) and a missing Accept: not the same content.
    base = job(str(uuid.uuid4()), RECEIVED)
    request, response, bundle = booking_exchange(**{"X-Request-Id": str(uuid.uuid4())})
    other_target = bars_headers(target_value="2000072489")["NHSD-Target-Identifier"]
    headers = {**request.headers, "nhsd-target-identifier": (other_target,)}
    headers.pop("accept")
    other = ReportJob(
        report_id=new_report_id(RECEIVED + 1),
        organisation="A1001",
        received=RECEIVED + 1,
        operation=Operation.PROCESS_MESSAGE,
        request=request._replace(headers=headers),
        response=response,
        bundle=bundle,
    )
    assert produce_reports([base, other], store) == []
    records = [store.get("A1001", j.report_id, RECEIVED + 60) for j in (base, other)]
    assert records[0] is not None and records[1] is not None
    assert records[1].findings == fresh_validation(other)
    assert records[0].findings != records[1].findings
    assert records[0].target != records[1].target
