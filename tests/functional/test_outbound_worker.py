"""The response worker and the endpoint store on moto (in-process), sending to a real stub server."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from bars_support import organisation
from sender_stub import SenderStub
from unit.outbound.test_response_messages import REQUEST_HEADERS, request_bundle
from unit.receiver.receiver_stubs import RunningStub, serve

from tkw.access import OPEN
from tkw.fhir.outcome import BarsError
from tkw.http import ApiRequest
from tkw.outbound.endpoints import SenderEndpoint, endpoint_for, put_endpoint, registered_service_ids
from tkw.outbound.service import (
    OutboundServices,
    SendStep,
    deliver,
    get_outbound_services,
    handle_message,
    request_response,
)
from tkw.receiver.safety import AddressGuard
from tkw.reports import save_report
from tkw.reports.model import ExchangeRecord, ReportRecord
from tkw_local.backend import Resolver


@pytest.fixture
def outbound(aws: Resolver) -> OutboundServices:
    services = get_outbound_services()
    services.settings = replace(services.settings, allow_private_receivers=True)
    return services


@pytest.fixture
def receiver() -> Iterator[RunningStub]:
    with serve(SenderStub()) as stub:
        yield stub


def endpoint(ods: str, service: str, url: str) -> SenderEndpoint:
    return SenderEndpoint(organisation=ods, service_id=service, url=url, updated_at="2026-11-26T20:00:00Z")


def test_endpoints_are_stored_per_organisation_with_a_default(outbound: OutboundServices) -> None:
    store = outbound.endpoints
    store.put(endpoint("A1", "2222222222", "https://a.example/FHIR/R4"))
    store.put(endpoint("A1", "default", "https://a.example/default"))
    store.put(endpoint("B2", "2222222222", "https://b.example/FHIR/R4"))
    assert endpoint_for(store, "A1", "2222222222").url == "https://a.example/FHIR/R4"  # type: ignore[union-attr]
    assert endpoint_for(store, "A1", "3333333333").url == "https://a.example/default"  # type: ignore[union-attr]
    assert endpoint_for(store, "B2", "3333333333") is None
    assert registered_service_ids(store, "A1") == ["2222222222"]  # what the Endpoint Catalogue counts
    assert store.delete("A1", "default") and not store.delete("A1", "default")
    assert [e.service_id for e in store.list("A1")] == ["2222222222"]


def test_a_deployed_stack_refuses_private_endpoints(outbound: OutboundServices) -> None:
    request = ApiRequest(
        method="PUT",
        path="/tkw/endpoints/default",
        headers={"nhsd-end-user-organisation": (organisation("A1"),)},
        body=json.dumps({"url": "http://169.254.169.254/latest"}).encode(),
    )
    with pytest.raises(BarsError) as refused:
        put_endpoint(request, OPEN, outbound.endpoints, AddressGuard(allow_private=False), "default", 0)
    assert refused.value.status == 400
    assert "a link-local address" in refused.value.outcome()["issue"][0]["diagnostics"]


def queued(resolver: Resolver) -> list[dict[str, Any]]:
    from tkw.adapters.aws import client

    got = client("sqs").receive_message(QueueUrl=resolver.physical["ResponsesQueue"], MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def test_a_step_is_sent_once_and_queues_the_next(
    aws: Resolver, outbound: OutboundServices, receiver: RunningStub
) -> None:
    outbound.endpoints.put(endpoint("A1", "default", receiver.url()))
    outbound.settings = replace(outbound.settings, response_follow_up_seconds=0)
    step = SendStep(
        trigger_id=str(uuid.uuid4()),
        organisation="A1",
        steps=["interim", "full-update"],
        request_id=str(uuid.uuid4()),
        report_id=str(uuid.uuid4()),
        request_bundle=request_bundle("9658499155"),
        request_headers=REQUEST_HEADERS,
    )
    link = deliver(step, outbound)
    assert link is not None and link.status == "sent" and link.http_status == 200
    assert handle_message(step.model_dump_json(), outbound) is None  # redelivered: not sent again
    (following,) = queued(aws)
    assert (following["step"], following["trigger_id"]) == (1, step.trigger_id)
    assert following["request_id"] != step.request_id
    record = outbound.reports.get("A1", step.report_id, outbound.clock())
    assert record is not None and record.direction == "outbound" and record.verdict == "pass"
    assert handle_message("{not json", outbound) is None


def sentinel_step(ods: str) -> SendStep:
    return SendStep(
        trigger_id=str(uuid.uuid4()),
        organisation=ods,
        steps=["interim"],
        request_id=str(uuid.uuid4()),
        report_id=str(uuid.uuid4()),
        trigger_report_id=str(uuid.uuid4()),
        request_bundle=request_bundle("9658499155"),
        request_headers=REQUEST_HEADERS,
    )


def test_responses_beyond_the_organisations_hourly_budget_are_not_sent(
    outbound: OutboundServices, receiver: RunningStub
) -> None:
    outbound.settings = replace(outbound.settings, async_responses_per_hour=2)
    outbound.endpoints.put(endpoint("L1", "default", receiver.url()))
    outbound.endpoints.put(endpoint("L2", "default", receiver.url()))
    sent = [deliver(sentinel_step("L1"), outbound) for _ in range(2)]
    assert [link.status for link in sent if link is not None] == ["sent", "sent"]
    refused = deliver(sentinel_step("L1"), outbound)
    assert refused is not None and refused.status == "not-sent" and refused.http_status is None
    assert "asynchronous responses for this hour" in refused.summary
    other = deliver(sentinel_step("L2"), outbound)  # another organisation has its own budget
    assert other is not None and other.status == "sent"
    # On demand, the refusal is the caller's answer: 429 SEND_TOO_MANY_REQUESTS with Retry-After.
    trigger = ReportRecord(
        id=str(uuid.uuid4()),
        time=datetime.fromtimestamp(outbound.clock(), UTC),
        organisation="L1",
        operation="process-message",
        exchange=ExchangeRecord(
            method="POST",
            path="/$process-message",
            request_body=json.dumps(request_bundle("9658499155")),
            response_status=200,
        ),
        verdict="pass",
    )
    save_report(outbound.reports, trigger)
    order = ApiRequest(
        method="POST",
        path="/tkw/responses",
        headers={"nhsd-end-user-organisation": (organisation("L1"),)},
        body=json.dumps({"report_id": trigger.id, "kind": "interim"}).encode(),
    )
    with pytest.raises(BarsError) as throttled:
        request_response(order, OPEN, outbound)
    assert throttled.value.status == 429 and "Retry-After" in throttled.value.headers
    assert throttled.value.outcome()["issue"][0]["details"]["coding"][0]["code"] == "SEND_TOO_MANY_REQUESTS"


@pytest.mark.parametrize("event", ["endpoints_list", "endpoints_put", "endpoints_delete", "responses_send"])
def test_in_int_mode_endpoints_and_responses_need_a_bearer_token(
    aws: Resolver, functions: dict[str, Any], monkeypatch: pytest.MonkeyPatch, event: str
) -> None:
    from functional.test_handlers_with_events import EVENT_FUNCTION, load_event

    from tkw.services import get_services
    from tkw.settings import get_settings

    monkeypatch.setenv("AUTH_MODE", "int")
    get_settings.cache_clear()
    get_services.cache_clear()
    try:
        result = functions[EVENT_FUNCTION[event]].invoke(load_event(event))
        assert result["statusCode"] == 401
        body = json.loads(result["body"])
        assert body["issue"][0]["details"]["coding"][0]["code"] == "SEND_UNAUTHORIZED"
    finally:
        get_settings.cache_clear()
        get_services.cache_clear()
