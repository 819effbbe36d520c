"""Receiver runs through the real handlers: the API function, SQS, the worker function, moto as AWS."""

from __future__ import annotations

import json
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

import pytest
from bars_support import assert_outcome
from unit.receiver.receiver_stubs import RunningStub, compliant_app, serve
from werkzeug.wrappers import Request

from tkw_local.backend import Resolver
from tkw_local.functions import LoadedFunction, rest_proxy_event, sqs_event

Api = Callable[..., tuple[int, Any, dict[str, str]]]


@pytest.fixture
def receiver_aws(aws: Resolver) -> Iterator[Resolver]:
    from tkw.services import get_services

    get_services.cache_clear()
    yield aws
    get_services.cache_clear()


@pytest.fixture
def private_allowed(receiver_aws: Resolver, monkeypatch: pytest.MonkeyPatch) -> Resolver:
    """As the local runner runs: receivers on loopback are allowed."""
    from tkw.settings import get_settings

    monkeypatch.setenv("ALLOW_PRIVATE_RECEIVERS", "true")
    get_settings.cache_clear()
    return receiver_aws


@pytest.fixture
def api(functions: dict[str, LoadedFunction]) -> Api:
    def call(
        method: str, path: str, body: Any = None, query: list[tuple[str, str]] | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        resource, params = path, {}
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[1] == "receiver-runs":
            resource, params = "/tkw/receiver-runs/{run_id}", {"run_id": parts[2]}
        raw = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
        event = rest_proxy_event(
            method=method,
            path=path,
            resource=resource,
            path_parameters=params,
            headers=[("Host", "127.0.0.1:3000"), ("Content-Type", "application/json"), ("X-Forwarded-Proto", "http")],
            query=query or [],
            body=raw,
            stage="v1",
            source_ip="127.0.0.1",
        )
        result = functions["ReceiverRunsFunction"].invoke(event)
        headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name] = ", ".join(values)
        return int(result["statusCode"]), json.loads(result["body"]), headers

    return call


def deliver(aws: Resolver, functions: dict[str, LoadedFunction]) -> int:
    """Hand every queued message to the worker function, as Lambda's SQS event source would."""
    import boto3

    sqs = boto3.client("sqs")
    url = aws.physical["ReceiverRunsQueue"]
    delivered = 0
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        result = functions["ReceiverWorkerFunction"].invoke(
            sqs_event([dict(m) for m in messages], aws.arns["ReceiverRunsQueue"])
        )
        assert result == {"batchItemFailures": []}
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        delivered += len(messages)
    return delivered


@pytest.fixture(scope="module")
def stub() -> Iterator[RunningStub]:
    with serve(compliant_app()) as running:
        yield running


def test_a_run_is_stored_queued_then_run_by_the_worker_with_reports(
    private_allowed: Resolver, api: Api, functions: dict[str, LoadedFunction], stub: RunningStub
) -> None:
    import boto3

    status, started, headers = api(
        "POST", "/tkw/receiver-runs", {"endpoint": stub.url(), "target_identifier": "2000072489"}
    )
    assert status == 202, started
    run_id = started["run_id"]
    assert headers["Location"] == f"/tkw/receiver-runs/{run_id}"
    item = boto3.client("dynamodb").get_item(
        TableName=private_allowed.physical["StateTable"], Key={"pk": {"S": f"RUN#{run_id}"}, "sk": {"S": "RUN"}}
    )["Item"]
    assert item["status"]["S"] == "queued" and int(item["expires_at"]["N"]) > time.time()

    status, queued, _ = api("GET", f"/tkw/receiver-runs/{run_id}")
    assert status == 200
    assert queued["status"] == "queued" and queued["links"] == {}
    assert {r["status"] for r in queued["results"]} == {"pending"}
    assert queued["summary"]["pending"] == len(queued["tests"])

    assert deliver(private_allowed, functions) == 1
    status, done, _ = api("GET", f"/tkw/receiver-runs/{run_id}")
    assert done["status"] == "passed", [r["message"] for r in done["results"] if r["status"] != "passed"]
    assert done["summary"]["passed"] == done["summary"]["total"] == len(done["results"])
    assert all(r["checks"] and r["status"] == "passed" for r in done["results"])
    assert set(done["links"]) == {"html", "json", "junit", "zip"}

    # The presigned links name the run's report objects; fetch them as a browser would.
    import requests

    zipped = requests.get(done["links"]["zip"], timeout=10)
    assert zipped.status_code == 200
    names = zipfile.ZipFile(BytesIO(zipped.content)).namelist()
    assert {"report.html", "results.json", "junit.xml"} <= set(names)
    assert urlsplit(done["links"]["html"]).path.endswith(f"receiver-runs/{run_id}/report.html")
    results = requests.get(done["links"]["json"], timeout=10).json()
    assert results["run"]["status"] == "passed" and results["results"][0]["request"]["url"].startswith(stub.url())

    # Keys and secret headers are not kept once the run is over.
    gone = boto3.client("dynamodb").get_item(
        TableName=private_allowed.physical["StateTable"], Key={"pk": {"S": f"RUN#{run_id}"}, "sk": {"S": "OPTIONS"}}
    )
    assert "Item" not in gone

    status, listed, _ = api("GET", "/tkw/receiver-runs")
    assert listed["runs"][0]["run_id"] == run_id and listed["runs"][0]["status"] == "passed"


def test_a_redelivered_message_does_not_run_the_suite_twice(
    private_allowed: Resolver, api: Api, functions: dict[str, LoadedFunction], stub: RunningStub
) -> None:
    import boto3

    _, started, _ = api(
        "POST",
        "/tkw/receiver-runs",
        {"endpoint": stub.url(), "target_identifier": "1", "tests": ["a1-capability-statement"]},
    )
    message = boto3.client("sqs").receive_message(QueueUrl=private_allowed.physical["ReceiverRunsQueue"])["Messages"]
    event = sqs_event([dict(m) for m in message], private_allowed.arns["ReceiverRunsQueue"])
    functions["ReceiverWorkerFunction"].invoke(event)
    _, first, _ = api("GET", f"/tkw/receiver-runs/{started['run_id']}")
    app = stub.server.app
    seen = len(app.requests)  # type: ignore[attr-defined]
    functions["ReceiverWorkerFunction"].invoke(event)
    _, second, _ = api("GET", f"/tkw/receiver-runs/{started['run_id']}")
    assert len(app.requests) == seen  # type: ignore[attr-defined]
    assert first["finished_at"] == second["finished_at"] and second["status"] == "passed"


def test_results_appear_while_the_run_is_going(
    private_allowed: Resolver, api: Api, functions: dict[str, LoadedFunction]
) -> None:
    """A UI polling the run sees each test as it completes."""
    release = threading.Event()
    inner = compliant_app()

    def gated(environ: dict[str, Any], start_response: Any) -> Any:
        if Request(environ).path.endswith("/metadata"):
            release.wait(10)
        return inner(environ, start_response)

    with serve(gated) as gate:
        _, started, _ = api(
            "POST",
            "/tkw/receiver-runs",
            {
                "endpoint": gate.url(),
                "target_identifier": "1",
                "tests": ["a1-capability-statement", "a1-unknown-appointment-id"],
            },
        )
        worker = threading.Thread(target=deliver, args=(private_allowed, functions))
        worker.start()
        try:
            view: dict[str, Any] = {}
            for _ in range(200):
                _, view, _ = api("GET", f"/tkw/receiver-runs/{started['run_id']}")
                if view["summary"]["passed"] == 1:
                    break
                time.sleep(0.05)
            statuses = {r["test_id"]: r["status"] for r in view["results"]}
            assert view["status"] == "running"
            assert statuses == {"a1-capability-statement": "pending", "a1-unknown-appointment-id": "passed"}
        finally:
            release.set()
            worker.join(timeout=30)
    _, done, _ = api("GET", f"/tkw/receiver-runs/{started['run_id']}")
    assert done["status"] == "passed"


PRIVATE_ENDPOINTS = [
    ("http://127.0.0.1:8080/fhir", "127.0.0.1, a loopback address"),
    ("http://localhost/fhir", "a loopback address"),
    ("http://169.254.169.254/latest/meta-data", "169.254.169.254, a link-local address"),
    ("http://10.0.0.7/fhir", "10.0.0.7, a private address"),
]

BAD_INPUT: list[tuple[Any, str | None, str]] = [
    (b"not json", None, "must be a JSON object"),
    ({"endpoint": "https://x.example", "target_identifier": "1", "application": "2"}, "application", "'1', '3'"),
    ({"endpoint": "https://x.example", "target_identifier": "1", "suites": ["sad"]}, "suites.0", "'happy' or 'error'"),
    ({"endpoint": "https://x.example", "target_identifier": "1", "suites": []}, "suites", "at least 1"),
    ([1, 2], None, "must be a JSON object"),
    ({}, "endpoint", "Field required"),
    ({"endpoint": "ftp://x.example", "target_identifier": "1"}, "endpoint", "http:// or https://"),
    ({"endpoint": "https://u:p@x.example", "target_identifier": "1"}, "endpoint", "credentials"),
    ({"endpoint": "https://x.example", "target_identifier": "1", "tests": ["nope"]}, "tests", "Unknown tests: nope"),
    ({"endpoint": "https://x.example", "target_identifier": "1", "client_cert": "x"}, "body", "give both or neither"),
    (
        {"endpoint": "https://x.example", "target_identifier": "1", "headers": {"X-Request-Id": "1"}},
        "headers",
        "set by the suite",
    ),
    ({"endpoint": "https://x.example", "target_identifier": "1", "timeout_seconds": 300}, "timeout_seconds", "30"),
    ({"endpoint": "https://x.example", "target_identifier": "1", "surprise": 1}, "surprise", "Extra inputs"),
]


def test_private_receivers_are_refused_when_deployed(receiver_aws: Resolver, api: Api) -> None:
    for endpoint, why in PRIVATE_ENDPOINTS:
        status, body, _ = api("POST", "/tkw/receiver-runs", {"endpoint": endpoint, "target_identifier": "2000072489"})
        assert status == 400, endpoint
        issue = assert_outcome(body, "REC_BAD_REQUEST", "invalid")
        assert why in issue["diagnostics"] and issue["expression"] == ["endpoint"], body
        assert "ALLOW_PRIVATE_RECEIVERS" in issue["diagnostics"]


def test_bad_input_is_a_400_saying_what_is_wrong(receiver_aws: Resolver, api: Api) -> None:
    for body, field, says in BAD_INPUT:
        status, answer, _ = api("POST", "/tkw/receiver-runs", body)
        assert status == 400, body
        issue = assert_outcome(answer, "REC_BAD_REQUEST", "invalid")
        assert says in issue["diagnostics"], (body, answer)
        if field:
            assert field in issue["expression"], (body, answer)


def test_json_nested_too_deep_is_a_400_not_a_500(receiver_aws: Resolver, api: Api) -> None:
    status, answer, _ = api("POST", "/tkw/receiver-runs", b"[" * 100_000 + b"]" * 100_000)
    assert status == 400
    assert "must be a JSON object" in assert_outcome(answer, "REC_BAD_REQUEST", "invalid")["diagnostics"]


def test_unusable_tls_material_is_refused_before_queueing(private_allowed: Resolver, api: Api) -> None:
    status, answer, _ = api(
        "POST",
        "/tkw/receiver-runs",
        {
            "endpoint": "https://127.0.0.1:8443/fhir",
            "target_identifier": "1",
            "ca_bundle": "-----BEGIN CERTIFICATE-----\nnope\n",
        },
    )
    assert status == 400 and "TLS material" in assert_outcome(answer, "REC_BAD_REQUEST", "invalid")["diagnostics"]


def test_reading_runs(receiver_aws: Resolver, api: Api) -> None:
    status, answer, _ = api("GET", "/tkw/receiver-runs/8a1c7f0e-0000-4000-8000-000000000000")
    assert status == 404
    assert_outcome(answer, "REC_NOT_FOUND", "not-found")
    status, answer, _ = api("GET", "/tkw/receiver-runs/not-a-run")
    assert status == 400 and "not a run id" in assert_outcome(answer, "REC_BAD_REQUEST", "invalid")["diagnostics"]
    status, answer, _ = api("GET", "/tkw/receiver-runs", query=[("limit", "0")])
    assert status == 400
    assert_outcome(answer, "REC_BAD_REQUEST", "invalid")
    status, answer, _ = api("GET", "/tkw/receiver-runs")
    assert (status, answer) == (200, {"runs": []})


def test_recent_runs_are_newest_first(private_allowed: Resolver, api: Api, stub: RunningStub) -> None:
    ids = [
        api(
            "POST",
            "/tkw/receiver-runs",
            {"endpoint": stub.url(), "target_identifier": str(n), "tests": ["a1-capability-statement"]},
        )[1]["run_id"]
        for n in range(3)
    ]
    _, listed, _ = api("GET", "/tkw/receiver-runs", query=[("limit", "2")])
    assert [r["run_id"] for r in listed["runs"]] == ids[::-1][:2]


def test_the_suite_is_described_for_a_ui(receiver_aws: Resolver, api: Api) -> None:
    from tkw.receiver.suite import load_suite

    status, suite, _ = api("GET", "/tkw/receiver-suite")
    assert status == 200
    assert [t["id"] for t in suite["tests"]] == load_suite().ids
    first = suite["tests"][0]
    assert {"id", "name", "description", "group", "depends_on", "application", "suite"} <= set(first)
    status, chosen, _ = api("GET", "/tkw/receiver-suite", query=[("application", "6"), ("suite", "happy")])
    assert status == 200
    assert [t["id"] for t in chosen["tests"]] == [
        t.id for t in load_suite().tests if t.application == "6" and t.suite == "happy"
    ]
    status, refused, _ = api("GET", "/tkw/receiver-suite", query=[("suite", "sad")])
    assert status == 400 and "happy or error" in refused["issue"][0]["diagnostics"]


def test_a_run_of_one_application_s_suites_reports_each_result_with_its_application_and_suite(
    private_allowed: Resolver, api: Api, functions: dict[str, LoadedFunction], stub: RunningStub
) -> None:
    import io
    import zipfile
    from xml.etree import ElementTree as ET

    import requests

    status, started, _ = api(
        "POST",
        "/tkw/receiver-runs",
        {"endpoint": stub.url(), "target_identifier": "2000072489", "application": "4", "suites": ["happy", "error"]},
    )
    assert status == 202, started
    assert all(t.startswith("a4-") for t in started["tests"])
    _, queued, _ = api("GET", f"/tkw/receiver-runs/{started['run_id']}")
    assert (queued["application"], queued["suites"]) == ("4", ["happy", "error"])
    assert {(r["application"], r["status"]) for r in queued["results"]} == {("4", "pending")}
    assert deliver(private_allowed, functions) == 1
    _, done, _ = api("GET", f"/tkw/receiver-runs/{started['run_id']}")
    assert done["status"] == "passed", [r["message"] for r in done["results"] if r["status"] != "passed"]
    assert {(r["application"], r["suite"]) for r in done["results"]} == {("4", "happy"), ("4", "error")}
    junit = ET.fromstring(requests.get(done["links"]["junit"], timeout=10).content)  # noqa: S314 - our own output
    assert [s.get("name") for s in junit.findall("testsuite")] == [
        "BaRS receiver suites: Application 4: 999 to CAS validation"
    ]
    names = zipfile.ZipFile(io.BytesIO(requests.get(done["links"]["zip"], timeout=10).content)).namelist()
    assert {"report.html", "results.json", "junit.xml"} <= set(names)


def test_a_queue_failure_is_reported_and_the_run_marked_as_error(
    private_allowed: Resolver, api: Api, monkeypatch: pytest.MonkeyPatch, stub: RunningStub
) -> None:
    from tkw.services import get_services
    from tkw.settings import get_settings

    monkeypatch.setenv("RECEIVER_RUNS_QUEUE_URL", "https://sqs.eu-west-2.amazonaws.com/123456789012/no-such-queue")
    get_settings.cache_clear()
    get_services.cache_clear()
    status, answer, _ = api("POST", "/tkw/receiver-runs", {"endpoint": stub.url(), "target_identifier": "1"})
    assert status == 503
    _, run, _ = api("GET", f"/tkw/receiver-runs/{answer['run_id']}")
    assert run["status"] == "error" and run["reason"] == "the run could not be queued"


def test_in_int_mode_runs_need_a_bearer_token_but_the_suite_is_public(
    receiver_aws: Resolver, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tkw.services import get_services
    from tkw.settings import get_settings

    monkeypatch.setenv("AUTH_MODE", "int")
    get_settings.cache_clear()
    get_services.cache_clear()
    try:
        status, answer, _ = api(
            "POST", "/tkw/receiver-runs", {"endpoint": "https://8.8.8.8/x", "target_identifier": "1"}
        )
        assert status == 401
        assert answer["issue"][0]["details"]["coding"][0]["code"] == "SEND_UNAUTHORIZED"
        assert api("GET", "/tkw/receiver-runs")[0] == 401
        assert api("GET", "/tkw/receiver-suite")[0] == 200
    finally:
        get_settings.cache_clear()
        get_services.cache_clear()


def test_a_run_whose_worker_died_is_retried_then_taken_over(
    private_allowed: Resolver, api: Api, functions: dict[str, LoadedFunction], stub: RunningStub
) -> None:
    import boto3

    _, started = api(
        "POST",
        "/tkw/receiver-runs",
        {"endpoint": stub.url(), "target_identifier": "1", "tests": ["a1-capability-statement"]},
    )[:2]
    run_id = started["run_id"]
    table, key = private_allowed.physical["StateTable"], {"pk": {"S": f"RUN#{run_id}"}, "sk": {"S": "RUN"}}

    def mark_running(started_at: str) -> None:
        boto3.client("dynamodb").update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET #s = :r, started_at = :t",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":r": {"S": "running"}, ":t": {"S": started_at}},
        )

    messages = boto3.client("sqs").receive_message(QueueUrl=private_allowed.physical["ReceiverRunsQueue"])["Messages"]
    event = sqs_event([dict(m) for m in messages], private_allowed.arns["ReceiverRunsQueue"])

    mark_running("2999-01-01T00:00:00.000+00:00")  # another worker is on it right now
    retry = functions["ReceiverWorkerFunction"].invoke(event)
    assert retry == {"batchItemFailures": [{"itemIdentifier": messages[0]["MessageId"]}]}

    mark_running("2000-01-01T00:00:00.000+00:00")  # that worker died long ago
    assert functions["ReceiverWorkerFunction"].invoke(event) == {"batchItemFailures": []}
    assert api("GET", f"/tkw/receiver-runs/{run_id}")[1]["status"] == "passed"
