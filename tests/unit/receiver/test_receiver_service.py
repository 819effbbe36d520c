"""The service layer with in-memory ports and an in-process receiver (no network, no AWS)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from unit.receiver.receiver_stubs import compliant_app
from werkzeug.test import Client

from tkw.access import OPEN
from tkw.fhir.outcome import BarsError
from tkw.http import ApiRequest
from tkw.outbound_limits import MemoryOutboundCounter
from tkw.receiver import service
from tkw.receiver.builder import PreparedRequest
from tkw.receiver.models import RunOptions, RunRecord, TestResult
from tkw.receiver.safety import AddressGuard
from tkw.receiver.suite import load_suite
from tkw.receiver.transport import Answer, HttpTransport, Transport
from tkw.settings import Settings

PUBLIC = "https://8.8.8.8/booking-and-referral/FHIR/R4"  # an address literal: no DNS, never contacted


@dataclass
class MemoryStore:
    records: dict[str, RunRecord] = field(default_factory=dict)
    saved_options: dict[str, RunOptions] = field(default_factory=dict)
    results: dict[str, dict[str, TestResult]] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)

    def create(self, record: RunRecord, options: RunOptions, expires_at: int) -> None:
        self.records[record.run_id], self.saved_options[record.run_id] = record, options

    def get(self, run_id: str, now: float) -> tuple[RunRecord, list[TestResult]] | None:
        if run_id not in self.records:
            return None
        return self.records[run_id], list(self.results.get(run_id, {}).values())

    def options(self, run_id: str, now: float) -> RunOptions | None:
        return self.saved_options.get(run_id)

    def claim(self, run_id: str, started_at: str, stale_before: str, now: float) -> RunRecord | None:
        record = self.records.get(run_id)
        if record is None or record.status != "queued":
            return None
        self.records[run_id] = record.model_copy(update={"status": "running", "started_at": started_at})
        return self.records[run_id]

    def status(self, run_id: str, now: float) -> Any:
        record = self.records.get(run_id)
        return record.status if record else None

    def put_result(self, run_id: str, result: TestResult, expires_at: int) -> None:
        self.events.append(f"result {result.test_id}")
        assert result.request is None and result.response is None, "progress items carry no exchange"
        self.results.setdefault(run_id, {})[result.test_id] = result

    def update(self, record: RunRecord, expires_at: int) -> None:
        self.events.append(f"update {record.status}")
        self.records[record.run_id] = record

    def forget_options(self, run_id: str) -> None:
        self.saved_options.pop(run_id, None)

    def recent(self, organisation: str, limit: int, now: float) -> list[RunRecord]:
        mine = [r for r in self.records.values() if r.organisation == organisation]
        return sorted(mine, key=lambda r: r.created_at, reverse=True)[:limit]


@dataclass
class MemoryQueue:
    sent: list[str] = field(default_factory=list)

    def enqueue(self, run_id: str) -> None:
        self.sent.append(run_id)


@dataclass
class MemoryReports:
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)

    def put(self, run_id: str, files: dict[str, bytes]) -> None:
        self.files[run_id] = files

    def links(self, run_id: str, files: dict[str, str], expires_in: int) -> dict[str, str]:
        return {label: f"https://reports.example/{run_id}/{name}?expires={expires_in}" for label, name in files.items()}


class WsgiTransport:
    """Hands each request to a WSGI app in-process: the receiver without a socket."""

    def __init__(self, app: Any) -> None:
        self.client = Client(app)

    def send(self, request: PreparedRequest) -> Answer:
        started = time.perf_counter()
        path = request.url.split("://", 1)[1].partition("/")[2]
        response = self.client.open(
            "/" + path, method=request.method, headers=list(request.headers), data=request.body or b""
        )
        return Answer(
            status=response.status_code,
            headers=tuple(response.headers.items()),
            body=response.get_data(),
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )


def services(transport: Transport | None = None, allow_private: bool = False) -> service.ReceiverServices:
    app = compliant_app()
    return service.ReceiverServices(
        settings=Settings(allow_private_receivers=allow_private, report_link_expiry_seconds=300),
        store=MemoryStore(),
        queue=MemoryQueue(),
        reports=MemoryReports(),
        counter=MemoryOutboundCounter(),
        transport=(lambda options, guard: transport or WsgiTransport(app)),
        clock=lambda: 1_790_000_000.0,
    )


def post(svc: service.ReceiverServices, body: Any) -> tuple[int, Any]:
    request = ApiRequest(method="POST", path="/tkw/receiver-runs", body=json.dumps(body).encode())
    response = service.start_run(request, OPEN, svc)
    return response.status, response.body


def test_start_then_execute_records_progress_before_finishing() -> None:
    svc = services()
    status, started = post(
        svc, {"endpoint": PUBLIC, "target_identifier": "2000072489", "headers": {"Authorization": "Bearer s3cret"}}
    )
    assert status == 202
    run_id = started["run_id"]
    assert svc.queue.sent == [run_id]  # type: ignore[attr-defined]
    stored = svc.store.records[run_id]  # type: ignore[attr-defined]
    assert stored.headers == {"Authorization": "[redacted]"}

    finished = service.execute_run(run_id, svc)
    assert finished is not None and finished.status == "passed"
    events = svc.store.events  # type: ignore[attr-defined]
    assert events[-1] == "update passed"
    assert len([e for e in events if e.startswith("result ")]) == len(load_suite().ids)
    assert run_id not in svc.store.saved_options  # type: ignore[attr-defined]
    report = json.loads(svc.reports.files[run_id]["results.json"])  # type: ignore[attr-defined]
    sent_headers = report["results"][0]["request"]["headers"]
    assert sent_headers["Authorization"] == "[redacted]"  # the secret went to the receiver, not the report

    view = service.get_run(ApiRequest(method="GET", path="/"), OPEN, run_id, svc)
    assert view.status == 200
    assert set(view.body["links"]) == {"html", "json", "junit", "zip"}
    assert view.body["summary"]["passed"] == len(load_suite().ids)


def test_a_run_is_executed_once() -> None:
    svc = services()
    _, started = post(svc, {"endpoint": PUBLIC, "target_identifier": "1", "tests": ["a1-capability-statement"]})
    assert service.execute_run(started["run_id"], svc) is not None
    assert service.execute_run(started["run_id"], svc) is None
    assert service.handle_message(json.dumps({"run_id": started["run_id"]}), svc) is None


def test_a_message_for_a_run_another_worker_is_running_is_retried_later() -> None:
    svc = services()
    _, started = post(svc, {"endpoint": PUBLIC, "target_identifier": "1"})
    run_id = started["run_id"]
    svc.store.records[run_id] = svc.store.records[run_id].model_copy(update={"status": "running"})  # type: ignore[attr-defined]
    with pytest.raises(service.RunInProgress):
        service.handle_message(json.dumps({"run_id": run_id}), svc)


def test_malformed_messages_are_dropped_not_retried() -> None:
    assert service.handle_message("not json", services()) is None
    assert service.handle_message(json.dumps({"run_id": "x"}), services()) is None


def test_the_worker_refuses_private_addresses_too() -> None:
    """Whatever the API accepted (say, a name that later resolves elsewhere), the worker checks again."""
    svc = services()
    svc.transport = lambda options, guard: HttpTransport(guard, timeout=1)
    _, started = post(svc, {"endpoint": PUBLIC, "target_identifier": "1"})
    run_id = started["run_id"]
    svc.store.saved_options[run_id] = RunOptions(endpoint="http://127.0.0.1:9/fhir", target_identifier="1")  # type: ignore[attr-defined]
    finished = service.execute_run(run_id, svc)
    assert finished is not None and finished.status == "failed"
    assert finished.reason is not None and finished.reason.startswith(
        "endpoint refused: 127.0.0.1 resolves to 127.0.0.1"
    )


def test_a_run_without_its_options_ends_in_error() -> None:
    svc = services()
    _, started = post(svc, {"endpoint": PUBLIC, "target_identifier": "1"})
    svc.store.saved_options.clear()  # type: ignore[attr-defined]
    finished = service.execute_run(started["run_id"], svc)
    assert finished is not None and (finished.status, finished.reason) == (
        "error",
        "the run's options have expired or are missing",
    )


def test_an_unexpected_failure_ends_the_run_in_error_with_the_reason() -> None:
    class Broken:
        def send(self, request: PreparedRequest) -> Answer:
            raise RuntimeError("disk on fire")

    svc = services(transport=Broken())
    _, started = post(svc, {"endpoint": PUBLIC, "target_identifier": "1"})
    finished = service.execute_run(started["run_id"], svc)
    assert finished is not None and finished.status == "error"
    assert finished.reason == "the run failed unexpectedly (RuntimeError: disk on fire)"


@pytest.mark.parametrize(
    ("endpoint", "why"),
    [("http://127.0.0.1:9/x", "a loopback address"), ("http://[::1]:9/x", "a loopback address")],
)
def test_private_endpoints_are_refused_unless_allowed(endpoint: str, why: str) -> None:
    status, body = post(services(), {"endpoint": endpoint, "target_identifier": "1"})
    assert status == 400 and why in body["issue"][0]["diagnostics"]
    assert post(services(allow_private=True), {"endpoint": endpoint, "target_identifier": "1"})[0] == 202


def test_the_suite_description_names_every_test_with_its_application_and_suite() -> None:
    body = service.describe_suite().body
    assert [t["id"] for t in body["tests"]] == load_suite().ids
    assert all(t["description"] for t in body["tests"])
    assert {t["application"] for t in body["tests"]} == {"1", "3", "4", "5", "6"}
    assert {t["suite"] for t in body["tests"]} == {"happy", "error"}
    assert [a["id"] for a in body["applications"]] == ["1", "3", "4", "5", "6"]
    assert {a["id"]: a["use_case"] for a in body["applications"]}["5"] == "a5t1"
    errors = [t for t in body["tests"] if t["suite"] == "error"]
    assert all(t["expected_bars_code"] for t in errors)


def test_the_suite_description_filters_by_application_and_suite() -> None:
    request = ApiRequest(method="GET", path="/tkw/receiver-suite", query={"application": ("5",), "suite": ("error",)})
    body = service.describe_suite(request).body
    assert body["tests"] and {(t["application"], t["suite"]) for t in body["tests"]} == {("5", "error")}
    assert [a["id"] for a in body["applications"]] == ["5"]
    bad = ApiRequest(method="GET", path="/tkw/receiver-suite", query={"application": ("2",)})
    refused = service.describe_suite(bad)
    assert refused.status == 400 and "1, 3, 4, 5, 6" in refused.body["issue"][0]["diagnostics"]


def test_a_run_can_choose_an_application_and_suites_instead_of_tests() -> None:
    svc = services(allow_private=True)
    status, body = post(
        svc, {"endpoint": "http://127.0.0.1:9/x", "target_identifier": "1", "application": "5", "suites": ["happy"]}
    )
    assert status == 202
    assert body["tests"] == [t.id for t in load_suite().select(None, "5", ["happy"])]
    record, _ = svc.store.get(body["run_id"], svc.clock()) or (None, None)
    assert record is not None and (record.application, record.suites) == ("5", ["happy"])
    for wrong, where in (({"application": "2"}, "application"), ({"application": "5", "suites": ["sad"]}, "suites.0")):
        status, body = post(svc, {"endpoint": "http://127.0.0.1:9/x", "target_identifier": "1", **wrong})
        assert status == 400 and where in body["issue"][0]["expression"]
    status, body = post(
        svc,
        {"endpoint": "http://127.0.0.1:9/x", "target_identifier": "1", "application": "5", "tests": ["a1-booking-new"]},
    )
    assert status == 400 and "a1-booking-new" in body["issue"][0]["diagnostics"]


def test_guard_is_built_from_settings() -> None:
    assert services(allow_private=True).guard == AddressGuard(allow_private=True)


def test_runs_are_listed_and_read_per_organisation_only() -> None:
    from bars_support import organisation

    svc = services(allow_private=True)

    def as_org(method: str, path: str, ods: str, body: bytes | None = None) -> ApiRequest:
        return ApiRequest(
            method=method, path=path, headers={"nhsd-end-user-organisation": (organisation(ods),)}, body=body
        )

    body = json.dumps({"endpoint": "http://127.0.0.1:9/FHIR/R4", "target_identifier": "2000011147"}).encode()
    started = service.start_run(as_org("POST", "/tkw/receiver-runs", "AAA01", body), OPEN, svc)
    assert started.status == 202
    run_id = started.body["run_id"]
    assert service.get_run(as_org("GET", "/", "AAA01"), OPEN, run_id, svc).status == 200
    assert service.get_run(as_org("GET", "/", "BBB02"), OPEN, run_id, svc).status == 404
    mine = service.list_runs(as_org("GET", "/tkw/receiver-runs", "AAA01"), OPEN, svc).body["runs"]
    theirs = service.list_runs(as_org("GET", "/tkw/receiver-runs", "BBB02"), OPEN, svc).body["runs"]
    assert [r["run_id"] for r in mine] == [run_id]
    assert theirs == []


def test_an_organisations_hourly_budget_of_runs_is_enforced_before_anything_is_queued() -> None:
    svc = services()
    svc.settings = Settings(receiver_runs_per_hour=2)
    body = {"endpoint": PUBLIC, "target_identifier": "2000072489"}
    assert [post(svc, body)[0] for _ in range(2)] == [202, 202]
    with pytest.raises(BarsError) as refused:
        post(svc, body)
    assert refused.value.status == 429 and "Retry-After" in refused.value.headers
    assert len(svc.queue.sent) == 2  # type: ignore[attr-defined]
