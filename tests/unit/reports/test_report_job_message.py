"""A report job as its queue message: everything the report needs arrives unchanged, the message is
one SQS may carry, version 1 messages (queued before an upgrade) still read, and the report made
from a message is byte for byte the report made from the job itself."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

import pytest
from bars_support import BASE, FIXTURES, bars_headers, ig_example

from tkw.http import ApiRequest, ApiResponse
from tkw.pipeline import handle
from tkw.reports.job import ReportJob
from tkw.reports.memory import InMemoryReportStore
from tkw.reports.production import produce_reports
from tkw.routes import Operation
from tkw.services import Services
from tkw.settings import Settings
from tkw.stateful import InMemoryStateStore

BOOKING = (FIXTURES / "booking-request.json").read_bytes()
# What SQS accepts in a message body (its documented character set).
SQS_CHARACTERS = {0x9, 0xA, 0xD} | set(range(0x20, 0xD800)) | set(range(0xE000, 0xFFFE))


class Collecting:
    """The request path's handoff, keeping each job."""

    def __init__(self) -> None:
        self.jobs: list[ReportJob] = []

    def submit(self, job: ReportJob) -> None:
        self.jobs.append(job)

    def wait_for(self, report_id: str, timeout: float) -> bool:
        return True

    def settle(self, timeout: float) -> None:
        return None


def _job(
    body: bytes | None,
    *,
    method: str = "POST",
    path: str = "/$process-message",
    content_type: str = "application/fhir+json",
    strict: bool = False,
    serialised: bool = True,
) -> ReportJob:
    """The job the request path hands over for this request (the edge's serialised answer by default)."""
    services = Services(settings=Settings(strict_mode=strict))
    services.state = InMemoryStateStore()
    services.reports = InMemoryReportStore()
    collected = Collecting()
    services.report_handoff = collected  # type: ignore[misc]
    headers = bars_headers() | {"Content-Type": content_type, "Authorization": "Bearer secret"}
    request = ApiRequest(
        method=method,
        path=BASE + path,
        headers={k.lower(): (v,) for k, v in headers.items()} | {"x-repeated": ("one", "two")},
        query={"_format": ("json",)} if method == "GET" else {},
        body=body,
        base_url="http://127.0.0.1:3000",
        request_time_epoch_ms=1764000000000,
    )
    operation = Operation.PROCESS_MESSAGE if path == "/$process-message" else Operation.METADATA
    handle(operation, request, services, serialised=serialised)
    (job,) = collected.jobs
    return job


def _non_ascii_booking() -> bytes:
    bundle = json.loads(BOOKING)
    bundle["entry"][0]["resource"].setdefault("meta", {})["source"] = "Zoë \u2019s clinic"
    return json.dumps(bundle, ensure_ascii=False).encode()


JOBS = {
    "booking (bodies after the line)": lambda: _job(BOOKING),
    "booking, answer kept as data": lambda: _job(BOOKING, serialised=False),
    "booking with non-ASCII text": lambda: _job(_non_ascii_booking()),
    "not UTF-8 (refused)": lambda: _job(b"\xff\xfe{}"),
    "bad JSON with control characters (refused)": lambda: _job(b'{"a": "\x01\x02\x7f"'),
    "no body (refused)": lambda: _job(None),
    "wrong media type (refused)": lambda: _job(BOOKING, content_type="application/fhir+xml"),
    "a GET": lambda: _job(None, method="GET", path="/metadata"),
    "strict mode (findings in the job)": lambda: _job(BOOKING, strict=True),
    "a referral": lambda: _job(json.dumps(ig_example("REFREQ01")).encode()),
    "booking with CR LF line ends": lambda: _job(BOOKING.replace(b"\n", b"\r\n")),
}


@pytest.fixture(params=list(JOBS), ids=list(JOBS))
def job(request: pytest.FixtureRequest) -> ReportJob:
    made: ReportJob = JOBS[request.param]()
    return made


def _same_job(decoded: ReportJob, job: ReportJob) -> None:
    assert decoded.request == job.request
    assert decoded.response.body_text() == job.response.body_text()
    assert (decoded.response.status, decoded.response.content_type, decoded.response.headers) == (
        job.response.status,
        job.response.content_type,
        job.response.headers,
    )
    assert decoded.bundle == job.bundle
    assert (decoded.report_id, decoded.organisation, decoded.received, decoded.operation, decoded.scenario) == (
        job.report_id,
        job.organisation,
        job.received,
        job.operation,
        job.scenario,
    )
    assert decoded.findings == job.findings
    assert decoded.responses == job.responses


def test_a_job_arrives_unchanged_through_its_message(job: ReportJob) -> None:
    _same_job(ReportJob.from_message(job.to_message()), job)


def test_the_message_is_one_sqs_accepts_and_starts_with_one_json_line(job: ReportJob) -> None:
    message = job.to_message()
    assert {ord(c) for c in message} <= SQS_CHARACTERS
    line = message.partition("\n")[0]
    assert json.loads(line)["report_id"] == job.report_id


def test_printable_ascii_bodies_travel_as_they_are_after_the_line() -> None:
    job = _job(BOOKING)
    line, _, rest = job.to_message().partition("\n")
    data = json.loads(line)
    assert data["request"]["body"] is None and data["response"]["body"] is None
    assert rest == job.response.body_text() + BOOKING.decode()


def test_bodies_that_could_not_travel_as_they_are_go_inside_the_line() -> None:
    non_ascii = _job(_non_ascii_booking())
    data = json.loads(non_ascii.to_message().partition("\n")[0])
    assert base64.b64decode(data["request"]["body"]) == _non_ascii_booking()
    crlf = _job(BOOKING.replace(b"\n", b"\r\n"))  # an XML transport could turn CR LF into LF
    data = json.loads(crlf.to_message().partition("\n")[0])
    assert base64.b64decode(data["request"]["body"]) == BOOKING.replace(b"\n", b"\r\n")
    refused = _job(b'{"a": "\x01"')
    data = json.loads(refused.to_message().partition("\n")[0])
    assert base64.b64decode(data["request"]["body"]) == b'{"a": "\x01"'


def _version_1(job: ReportJob) -> str:
    """The message as version 1 wrote it (what may still be queued when the new version deploys)."""
    request, response = job.request, job.response
    data: dict[str, Any] = {
        "v": 1,
        "report_id": job.report_id,
        "organisation": job.organisation,
        "received": job.received,
        "operation": str(job.operation),
        "scenario": job.scenario,
        "admitted_body": job.bundle is not None,
        "request": {
            "method": request.method,
            "path": request.path,
            "headers": {k: list(v) for k, v in request.headers.items()},
            "query": {k: list(v) for k, v in request.query.items()},
            "path_params": dict(request.path_params),
            "body": None if request.body is None else base64.b64encode(request.body).decode(),
            "base_url": request.base_url,
            "request_time_epoch_ms": request.request_time_epoch_ms,
        },
        "response": {
            "status": response.status,
            "content_type": response.content_type,
            "headers": dict(response.headers),
            "body": response.body_text() if response.body is not None else None,
        },
    }
    if job.findings is not None:
        data["findings"] = [f.model_dump(mode="json") for f in job.findings]
    return json.dumps(data, separators=(",", ":"))


def test_a_version_1_message_still_reads(job: ReportJob) -> None:
    _same_job(ReportJob.from_message(_version_1(job)), job)


def _stored_json(job: ReportJob) -> str:
    store = InMemoryReportStore()
    assert produce_reports([job], store) == []
    record = store.get(job.organisation, job.report_id, job.received)
    assert record is not None
    return record.to_json()


def test_the_report_from_a_message_is_the_report_from_the_job_byte_for_byte(job: ReportJob) -> None:
    from_job = _stored_json(job)
    assert _stored_json(ReportJob.from_message(job.to_message())) == from_job
    assert _stored_json(ReportJob.from_message(_version_1(job))) == from_job


@pytest.mark.parametrize(
    "damage",
    [
        lambda m: m + "x",  # more after the line than its lengths say
        lambda m: m[:-1],  # less
        lambda m: m.partition("\n")[0],  # the bodies lost
        lambda m: m.replace('"v":2', '"v":3', 1),  # a version this code does not know
    ],
)
def test_a_damaged_message_is_refused_not_misread(damage: Any) -> None:
    with pytest.raises(ValueError):
        ReportJob.from_message(damage(_job(BOOKING).to_message()))


def test_a_response_with_control_characters_travels_inside_the_line() -> None:
    job = _job(BOOKING)
    odd = replace(job, response=ApiResponse(200, "tab\tok, bell \x07 and \ufffe not", content_type="text/plain"))
    message = odd.to_message()
    assert {ord(c) for c in message} <= SQS_CHARACTERS
    assert ReportJob.from_message(message).response.body == "tab\tok, bell \x07 and \ufffe not"
