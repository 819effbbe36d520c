"""Each function's handler, invoked with its events/ file (as `sam local invoke -e` would)."""

from __future__ import annotations

import json

import boto3
import pytest
from bars_support import BASE, ROOT, assert_outcome, assert_valid_fhir, proxy_headers

from tkw_local.backend import Resolver
from tkw_local.functions import LoadedFunction, sqs_event
from tkw_local.template import Template

EVENTS = ROOT / "events"
EVENT_FUNCTION = {
    "ping": "PingFunction",
    "metadata": "MetadataFunction",
    "message_definition": "MessageDefinitionFunction",
    "slot": "SlotFunction",
    "process_message": "ProcessMessageFunction",
    "appointment_search": "AppointmentFunction",
    "appointment_read": "AppointmentFunction",
    "service_request_search": "ServiceRequestFunction",
    "service_request_read": "ServiceRequestFunction",
    "token": "TokenFunction",
    "apps_register": "AppsFunction",
    "apps_read": "AppsFunction",
    "apps_delete": "AppsFunction",
    "reports_list": "ReportsFunction",
    "reports_read": "ReportsFunction",
    "reports_download": "ReportsFunction",
    "reports_zip": "ReportsFunction",
    "receiver_runs_start": "ReceiverRunsFunction",
    "receiver_runs_list": "ReceiverRunsFunction",
    "receiver_runs_read": "ReceiverRunsFunction",
    "receiver_suite": "ReceiverRunsFunction",
    "state_get": "StateFunction",
    "state_reset": "StateFunction",
    "endpoints_list": "EndpointsFunction",
    "endpoints_put": "EndpointsFunction",
    "endpoints_delete": "EndpointsFunction",
    "endpoints_ping": "EndpointsFunction",
    "responses_send": "ResponsesFunction",
    "portal_page": "PortalFunction",
    "portal_asset": "PortalFunction",
    "organisations": "OrganisationsFunction",
    "shares_create": "SharesFunction",
    "shares_zip": "SharesFunction",
    "shares_list": "SharesFunction",
    "shares_revoke": "SharesFunction",
    "shares_open": "SharesFunction",
    "fallback": "FallbackFunction",
}


def load_event(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())


def test_every_api_route_of_the_template_has_an_event() -> None:
    template = Template.read(ROOT / "template.yaml")
    routes = {(r.method, r.path) for f in template.functions() for r in f.routes if r.function != "FallbackFunction"}
    covered = {(load_event(n)["httpMethod"], load_event(n)["resource"]) for n in EVENT_FUNCTION}
    assert routes <= covered, f"events/ lacks {routes - covered}"


BARS_EVENTS = [
    name
    for name, function in EVENT_FUNCTION.items()
    if function
    not in (
        "PingFunction",
        "FallbackFunction",
        "StateFunction",
        "TokenFunction",
        "AppsFunction",
        "ReportsFunction",
        "ReceiverRunsFunction",
        "PortalFunction",
        "OrganisationsFunction",
        "SharesFunction",
        "EndpointsFunction",
        "ResponsesFunction",
    )
]


@pytest.mark.parametrize("name", BARS_EVENTS)
def test_bars_route_answers_valid_fhir_and_echoes_headers(
    name: str, aws: Resolver, functions: dict[str, LoadedFunction]
) -> None:
    event = load_event(name)
    result = functions[EVENT_FUNCTION[name]].invoke(event)
    assert result["statusCode"] == 200, result["body"]
    headers = proxy_headers(result)
    assert headers["Content-Type"] == "application/fhir+json"
    assert headers["X-Request-Id"] == event["headers"]["X-Request-Id"]
    assert headers["X-Correlation-Id"] == event["headers"]["X-Correlation-Id"]
    assert_valid_fhir(json.loads(result["body"]))


def test_ping_is_json(aws: Resolver, functions: dict[str, LoadedFunction]) -> None:
    result = functions["PingFunction"].invoke(load_event("ping"))
    assert result["statusCode"] == 200
    assert "version" in json.loads(result["body"])


def test_fallback_answers_unknown_paths_with_404(aws: Resolver, functions: dict[str, LoadedFunction]) -> None:
    result = functions["FallbackFunction"].invoke(load_event("fallback"))
    assert result["statusCode"] == 404
    assert_outcome(json.loads(result["body"]), "NOT_FOUND", "not-found")


def test_fallback_answers_wrong_methods_with_405(aws: Resolver, functions: dict[str, LoadedFunction]) -> None:
    event = load_event("slot") | {"httpMethod": "DELETE"}
    result = functions["FallbackFunction"].invoke(event)
    assert result["statusCode"] == 405
    assert proxy_headers(result)["Allow"] == "GET"


def test_handler_path_matching_survives_the_dollar_in_process_message(
    aws: Resolver, functions: dict[str, LoadedFunction]
) -> None:
    event = load_event("process_message")
    assert event["path"] == f"{BASE}/$process-message"
    result = functions["ProcessMessageFunction"].invoke(event)
    assert result["statusCode"] == 200
    assert json.loads(result["body"])["type"] == "message"


def test_state_endpoints_read_and_reset(aws: Resolver, functions: dict[str, LoadedFunction]) -> None:
    read = functions["StateFunction"].invoke(load_event("state_get"))
    assert read["statusCode"] == 200
    assert json.loads(read["body"])["state"] == "initial"
    reset = functions["StateFunction"].invoke(load_event("state_reset"))
    assert reset["statusCode"] == 204


def test_token_endpoint_refuses_the_placeholder_assertion(aws: Resolver, functions: dict[str, LoadedFunction]) -> None:
    result = functions["TokenFunction"].invoke(load_event("token"))
    assert result["statusCode"] == 400
    body = json.loads(result["body"])
    assert set(body) >= {"error", "error_description", "message_id"}


def test_apps_register_refuses_the_placeholder_key(aws: Resolver, functions: dict[str, LoadedFunction]) -> None:
    result = functions["AppsFunction"].invoke(load_event("apps_register"))
    assert result["statusCode"] == 400
    unknown = functions["AppsFunction"].invoke(load_event("apps_read"))
    assert unknown["statusCode"] == 404


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("reports_list", 200),
        ("reports_read", 404),
        ("reports_download", 404),
        ("receiver_runs_list", 200),
        ("receiver_runs_read", 400),  # the placeholder is not a run id
        ("receiver_suite", 200),
        ("endpoints_list", 200),
        ("endpoints_delete", 404),  # nothing registered yet
        ("endpoints_ping", 404),
        ("responses_send", 404),  # the placeholder names no report
    ],
)
def test_emulator_endpoints_answer_their_events(
    name: str, status: int, aws: Resolver, functions: dict[str, LoadedFunction]
) -> None:
    result = functions[EVENT_FUNCTION[name]].invoke(load_event(name))
    assert result["statusCode"] == status, result["body"][:300]
    assert proxy_headers(result)["X-Correlation-Id"] == load_event(name)["headers"]["X-Correlation-Id"]


def test_bars_responses_name_their_report_and_it_can_be_read(
    aws: Resolver, functions: dict[str, LoadedFunction]
) -> None:
    result = functions["MetadataFunction"].invoke(load_event("metadata"))
    report_id = proxy_headers(result)["TKW-Report-Id"]
    event = load_event("reports_read")
    event = event | {
        "path": f"/tkw/reports/{report_id}",
        "pathParameters": {"id": report_id},
    }
    read = functions["ReportsFunction"].invoke(event)
    assert read["statusCode"] == 200, read["body"][:300]
    assert json.loads(read["body"])["id"] == report_id


def test_deployed_reports_go_through_the_queue_and_the_report_worker(
    aws: Resolver, functions: dict[str, LoadedFunction], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As deployed: the BaRS function sends one SQS message; until the report worker has run, the
    report is "pending" (202, never 404); the worker stores it; a redelivery rewrites it harmlessly."""
    from tkw.services import get_services
    from tkw.settings import get_settings

    monkeypatch.setenv("TKW_REPORT_HANDOFF", "queue")
    get_settings.cache_clear()
    get_services.cache_clear()
    event = load_event("metadata")
    result = functions["MetadataFunction"].invoke(event)
    assert result["statusCode"] == 200
    report_id = proxy_headers(result)["TKW-Report-Id"]

    read_event = load_event("reports_read") | {"path": f"/tkw/reports/{report_id}", "pathParameters": {"id": report_id}}
    pending = functions["ReportsFunction"].invoke(read_event)
    assert pending["statusCode"] == 202, pending["body"][:300]
    assert json.loads(pending["body"])["status"] == "pending"
    assert proxy_headers(pending)["Retry-After"] == "1"

    sqs = boto3.client("sqs")
    queue_url = aws.physical["ReportJobsQueue"]
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)["Messages"]
    assert len(messages) == 1
    worker_event = sqs_event(messages, aws.arns["ReportJobsQueue"])
    for _ in range(2):  # the second delivery is a retry: same report, still no duplicate finding
        answer = functions["ReportWorkerFunction"].invoke(worker_event)
        assert answer == {"batchItemFailures": []}

    read = functions["ReportsFunction"].invoke(read_event)
    assert read["statusCode"] == 200, read["body"][:300]
    record = json.loads(read["body"])
    assert record["id"] == report_id
    assert record["exchange"]["response_status"] == 200
    assert not [f for f in record["findings"] if f["id"].startswith("header.x-request-id") and not f["passed"]]


def test_an_unreadable_report_job_is_a_batch_item_failure(aws: Resolver, functions: dict[str, LoadedFunction]) -> None:
    """SQS retries it, then moves it to the dead-letter queue; the rest of the batch is stored."""
    worker_event = sqs_event([{"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": "{not json"}], "arn:queue")
    assert functions["ReportWorkerFunction"].invoke(worker_event) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
