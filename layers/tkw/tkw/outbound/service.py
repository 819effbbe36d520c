"""Async responses: the emulator, as the receiving service, answers back to the sender's endpoint.

Three entry points:

* :func:`queue_triggered_responses` — after a request's synchronous answer: a Response sentinel
  (``responses.yaml``) queues its first step with a delay;
* :func:`deliver` — the worker: one queued step is built, sent (the receiver runs' transport:
  SSRF guard, TLS-MA, deadline; retries with backoff on network failures), the sender's answer
  judged (the receiver runs' checks), reported, linked from the triggering report, and the next
  step queued;
* :func:`request_response` — ``POST /tkw/responses``: one response of a chosen kind, now.

Each step is claimed once (trigger id + step number, a conditional write): a redelivered message
never sends a response twice. Storage, queue and transport are ports.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tkw import outbound_limits
from tkw.access import Caller
from tkw.fhir.outcome import BarsError
from tkw.http import ApiRequest, ApiResponse
from tkw.outbound.endpoints import (
    DEFAULT_SERVICE,
    EndpointStore,
    SenderEndpoint,
    TransportFactory,
    endpoint_for,
    http_transport,
)
from tkw.outbound.messages import (
    ON_DEMAND_KINDS,
    OutboundMessage,
    ResponseKind,
    build_response,
    load_table,
    nhs_number_of,
    request_facts,
)
from tkw.outbound_limits import OutboundCounter, OutboundKind
from tkw.receiver.builder import PreparedRequest
from tkw.receiver.checks import judge
from tkw.receiver.models import CheckResult
from tkw.receiver.safety import AddressGuard
from tkw.receiver.suite import Expect
from tkw.receiver.transport import Answer, Transport, TransportError
from tkw.reports.job import UNIDENTIFIED_ORGANISATION, issued_at
from tkw.reports.model import (
    ExchangeRecord,
    FindingCounts,
    ReportRecord,
    ResponseLink,
    redact_headers,
)
from tkw.reports.store import ReportStore
from tkw.scenarios.model import ERROR_STATUS
from tkw.settings import Settings

if TYPE_CHECKING:
    from tkw.services import Services
from tkw.validation.findings import Finding, verdict_of

logger = Logger(child=True)

# A BaRS receiver accepts a response message with 200 and the message Bundle, as for any message
# (the receiver suite's "validation-response" test expects the same).
EXPECTED_ANSWER = Expect(status=200, resource_type="Bundle", bundle_type="message")
MAX_RESPONSE_MS = 5000
# An error answer is judged for its shape instead: an OperationOutcome with the BaRS code of its status.
BARS_CODE_OF_STATUS = {status: code for code, status in ERROR_STATUS.items()}
MESSAGE_CHECKS = frozenset({"resource-type", "bundle-type"})
OUTCOME_CHECKS = frozenset({"outcome-shape", "bars-code", "issue-code"})


def judge_answer(request: PreparedRequest, answer: Answer) -> list[CheckResult]:
    """The receiver runs' checks: 200 and the message Bundle; an error is still checked for its shape."""
    checks = judge(EXPECTED_ANSWER, request, answer, {}, MAX_RESPONSE_MS).checks
    if answer.status < 400:
        return checks
    code = BARS_CODE_OF_STATUS.get(answer.status, "REC_SERVER_ERROR" if answer.status >= 500 else "REC_BAD_REQUEST")
    refusal = Expect(status=answer.status, resource_type="OperationOutcome", bars_code=code)
    shape = judge(refusal, request, answer, {}, MAX_RESPONSE_MS).checks
    return [c for c in checks if c.id not in MESSAGE_CHECKS] + [c for c in shape if c.id in OUTCOME_CHECKS]


# SQS takes 256 KB per message; the request Bundle travels in it.
MAX_QUEUED_BUNDLE_BYTES = 200 * 1024
# Network failures worth another attempt: nothing (or nothing complete) reached the sender.
RETRIED_FAILURES = frozenset({"connect", "timeout", "protocol"})
JSON = "application/json"


class SendStep(BaseModel):
    """One queued response of a trigger (the SQS message)."""

    model_config = ConfigDict(frozen=True)

    trigger_id: str  # idempotency key: one send per (trigger_id, step)
    organisation: str
    steps: list[ResponseKind] = Field(min_length=1)
    step: int = 0
    request_id: str  # X-Request-Id of this step's message, the same on every attempt
    report_id: str  # the outbound report this step writes
    trigger_report_id: str | None = None
    origin: str = "sentinel"  # sentinel or on-demand
    request_bundle: dict[str, Any]
    request_headers: dict[str, str] = Field(default_factory=dict)  # x-correlation-id, use-context

    @property
    def kind(self) -> ResponseKind:
        return self.steps[self.step]

    def following(self) -> SendStep | None:
        if self.step + 1 >= len(self.steps):
            return None
        return self.model_copy(
            update={"step": self.step + 1, "request_id": str(uuid.uuid4()), "report_id": str(uuid.uuid4())}
        )


class SendClaims(Protocol):
    def claim(self, trigger_id: str, step: int, now: float) -> bool: ...


class ResponseQueue(Protocol):
    def send(self, body: dict[str, Any], delay_seconds: int) -> None: ...


@dataclass
class OutboundServices:
    settings: Settings
    endpoints: EndpointStore
    claims: SendClaims
    queue: ResponseQueue
    reports: ReportStore
    # Hourly budget of asynchronous responses per organisation (tkw.outbound_limits).
    counter: OutboundCounter
    transport: TransportFactory | None = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    @property
    def guard(self) -> AddressGuard:
        return AddressGuard(allow_private=self.settings.allow_private_receivers)

    def transport_for(self, endpoint: SenderEndpoint) -> Transport:
        factory = self.transport or http_transport(self.guard, self.settings.response_timeout_seconds)
        return factory(endpoint)


def get_outbound_services() -> OutboundServices:
    """This process's async-response collaborators (part of the one container, tkw.services)."""
    from tkw.services import get_services

    return get_services().outbound


def outbound_services_from(services: Services) -> OutboundServices:
    """Async-response collaborators built over the container's settings and shared adapters."""
    from tkw.adapters.outbound_store import DynamoEndpointStore, DynamoSendClaims, SqsResponseQueue

    settings = services.settings
    return OutboundServices(
        settings=settings,
        endpoints=DynamoEndpointStore(settings.table_name),
        claims=DynamoSendClaims(settings.table_name),
        queue=SqsResponseQueue(settings.responses_queue_url),
        reports=services.reports,
        counter=services.outbound_counter,
    )


def _kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The request headers a response needs (never credentials)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    return {name: lowered[name] for name in ("x-correlation-id", "use-context") if lowered.get(name)}


def _title(kind: ResponseKind) -> str:
    return load_table().kinds[kind].title


# -- trigger -------------------------------------------------------------------------------------


def queue_triggered_responses(
    bundle: Mapping[str, Any] | None,
    headers: Mapping[str, str],
    status: int,
    report_id: str,
    organisation: str,
    services: OutboundServices | None = None,
) -> list[ResponseLink]:
    """Queue the responses a Response sentinel asks for; what the triggering report says of them."""
    if bundle is None:
        return []
    trigger = load_table().trigger_for(nhs_number_of(bundle))
    if trigger is None or status not in trigger.after_status:
        return []
    links = [
        ResponseLink(kind=kind, title=_title(kind), step=n, status="queued", summary="queued")
        for n, kind in enumerate(trigger.steps)
    ]
    if organisation == UNIDENTIFIED_ORGANISATION:
        return _not_sent(
            links,
            "the request has no usable NHSD-End-User-Organisation, so no registered endpoint can be found",
        )
    if len(json.dumps(bundle, separators=(",", ":")).encode()) > MAX_QUEUED_BUNDLE_BYTES:
        return _not_sent(links, f"the request Bundle is over {MAX_QUEUED_BUNDLE_BYTES // 1024} KB, too large to queue")
    services = services or get_outbound_services()
    step = SendStep(
        trigger_id=report_id,
        organisation=organisation,
        steps=trigger.steps,
        request_id=str(uuid.uuid4()),
        report_id=str(uuid.uuid4()),
        trigger_report_id=report_id,
        request_bundle=dict(bundle),
        request_headers=_kept_headers(headers),
    )
    delay = services.settings.response_delay_seconds
    try:
        services.queue.send(step.model_dump(mode="json"), delay)
    except Exception:
        logger.exception("Queueing a triggered response failed", extra={"trigger_id": report_id})
        return _not_sent(links, "the emulator could not queue it (logged under this request's X-Correlation-Id)")
    follow = services.settings.response_follow_up_seconds
    return [
        link.model_copy(
            update={
                "summary": f"queued: sent about {delay} s after this request"
                if link.step == 0
                else f"queued: sent about {follow} s after the previous response",
                "report_id": step.report_id if link.step == 0 else None,
            }
        )
        for link in links
    ]


def _not_sent(links: list[ResponseLink], reason: str) -> list[ResponseLink]:
    return [link.model_copy(update={"status": "not-sent", "summary": f"not sent: {reason}."}) for link in links]


# -- worker --------------------------------------------------------------------------------------


@dataclass
class Delivery:
    """What happened to one response: the message, where it went, the answer or why there is none."""

    message: OutboundMessage
    endpoint: SenderEndpoint | None
    url: str | None
    answer: Answer | None = None
    failure: TransportError | None = None
    attempts: int = 0


def _send(message: OutboundMessage, endpoint: SenderEndpoint, services: OutboundServices) -> Delivery:
    url = f"{endpoint.url}/$process-message"
    prepared = PreparedRequest(test_id=message.kind, method="POST", url=url, headers=message.headers, body=message.body)
    delivery = Delivery(message=message, endpoint=endpoint, url=url)
    attempts = services.settings.response_attempts
    for attempt in range(1, attempts + 1):
        delivery.attempts = attempt
        try:
            delivery.answer, delivery.failure = services.transport_for(endpoint).send(prepared), None
            return delivery
        except TransportError as err:
            delivery.failure = err
            if err.kind not in RETRIED_FAILURES or attempt == attempts:
                return delivery
            services.sleep(services.settings.response_backoff_seconds * 2 ** (attempt - 1))
    return delivery


def _findings(delivery: Delivery, step: SendStep) -> list[Finding]:
    """The sender's answer judged as receiver runs judge answers, plus whether it was delivered."""
    service = request_facts(step.request_bundle, step.request_headers).sender_service
    if delivery.endpoint is None:
        return [
            Finding(
                id="outbound.endpoint",
                category="delivery",
                severity="error",
                passed=False,
                message=(
                    f"No endpoint is registered for service {service or '(none in MessageHeader.source.endpoint)'} "
                    f"or {DEFAULT_SERVICE!r} in organisation {step.organisation}: register one with "
                    f"PUT /tkw/endpoints/{service or DEFAULT_SERVICE}. The message is in this report."
                ),
                location="endpoint",
            )
        ]
    if delivery.answer is None:
        assert delivery.failure is not None
        tries = f" after {delivery.attempts} attempts" if delivery.attempts > 1 else ""
        return [
            Finding(
                id=f"outbound.delivery.{delivery.failure.kind}",
                category="delivery",
                severity="error",
                passed=False,
                message=f"The response could not be delivered to {delivery.url}{tries}: {delivery.failure.reason}.",
                location="endpoint",
            )
        ]
    prepared = PreparedRequest(
        test_id=step.kind, method="POST", url=delivery.url or "", headers=delivery.message.headers
    )
    checks = judge_answer(prepared, delivery.answer)
    delivered = Finding(
        id="outbound.delivery",
        category="delivery",
        severity="info",
        passed=True,
        message=f"Delivered to {delivery.url}"
        + (f" on attempt {delivery.attempts}" if delivery.attempts > 1 else "")
        + f"; the endpoint answered HTTP {delivery.answer.status} in {delivery.answer.elapsed_ms:.0f} ms.",
        location="endpoint",
    )
    return [delivered] + [
        Finding(
            id=f"outbound.answer.{check.id}",
            category="delivery",
            severity=check.severity,
            passed=check.passed,
            message=check.message,
            location="response",
        )
        for check in checks
    ]


def _record(delivery: Delivery, step: SendStep, findings: list[Finding], now: float) -> ReportRecord:
    message = delivery.message
    answer = delivery.answer
    exchange = ExchangeRecord(
        method="POST",
        path=delivery.url or "(no endpoint registered)",
        request_headers=redact_headers({k: [v] for k, v in message.headers}),
        request_body=json.dumps(message.bundle, indent=2, ensure_ascii=False),
        response_status=answer.status if answer else 0,
        response_headers=dict(answer.headers) if answer else {},
        response_body=answer.body.decode("utf-8", "replace") if answer else None,
    )
    facts = request_facts(step.request_bundle, step.request_headers)
    return ReportRecord(
        id=step.report_id,
        time=datetime.fromtimestamp(now, UTC),
        organisation=step.organisation,
        target=f"https://fhir.nhs.uk/Id/dos-service-id|{facts.sender_service}" if facts.sender_service else None,
        operation="outbound-response",
        request_id=message.header("X-Request-Id"),
        correlation_id=message.header("X-Correlation-Id"),
        scenario=f"response-{step.kind}" + ("/on-demand" if step.origin == "on-demand" else ""),
        exchange=exchange,
        findings=findings,
        verdict=verdict_of(findings),
        counts=FindingCounts.of(findings),
        direction="outbound",
        trigger_report_id=step.trigger_report_id,
    )


def _link(delivery: Delivery, step: SendStep, record: ReportRecord) -> ResponseLink:
    if delivery.endpoint is None:
        status, summary = "not-sent", next(f.message for f in record.findings if not f.passed)
    elif delivery.answer is None:
        status, summary = "failed", next(f.message for f in record.findings if not f.passed)
    else:
        status = "sent"
        problems = [f.message for f in record.failures if f.severity == "error"]
        summary = f"sent to {delivery.url}; the endpoint answered HTTP {delivery.answer.status}" + (
            f"; {len(problems)} check(s) failed: {problems[0]}" if problems else "; every check passed"
        )
    return ResponseLink(
        kind=step.kind,
        title=_title(step.kind),
        step=step.step,
        status=status,  # type: ignore[arg-type]
        summary=summary,
        report_id=record.id,
        endpoint=delivery.url,
        http_status=delivery.answer.status if delivery.answer else None,
    )


def _trigger_report(step: SendStep, services: OutboundServices) -> ReportRecord | None:
    """The report of the triggering request; it may still be with the report worker (a response
    sent without delay can overtake it), so one issued moments ago is waited for, briefly."""
    from tkw.services import get_services

    trigger = step.trigger_report_id or ""
    get_services().report_handoff.wait_for(trigger, REPORT_WAIT_SECONDS)  # where produced in-process
    deadline = time.monotonic() + REPORT_WAIT_SECONDS
    while True:
        record = services.reports.get(step.organisation, trigger, services.clock())
        issued = issued_at(trigger)
        recent = issued is not None and services.clock() - issued < REPORT_WAIT_SECONDS * 2
        if record is not None or not recent or time.monotonic() >= deadline:
            return record
        time.sleep(0.5)  # produced by another function (deployed): poll until it is stored


def _update_trigger_report(link: ResponseLink, step: SendStep, services: OutboundServices) -> None:
    """Link the outbound report from the report of the request that triggered it."""
    if not step.trigger_report_id:
        return
    record = _trigger_report(step, services)
    if record is None:
        logger.info("Triggering report not found; not linked", extra={"report_id": step.trigger_report_id})
        return
    if step.origin == "on-demand":  # added after the sentinel's own responses
        kept = list(record.responses)
        link = link.model_copy(
            update={"step": max((r.step for r in kept), default=-1) + 1, "title": f"{link.title} (on demand)"}
        )
    else:  # replaces its "queued" line
        kept = [r for r in record.responses if r.step != link.step]
    updated = record.model_copy(update={"responses": sorted([*kept, link], key=lambda r: r.step)})
    _save(services.reports, updated)


def deliver(step: SendStep, services: OutboundServices | None = None) -> ResponseLink | None:
    """Send one queued response. None when the step was already taken (a redelivered message)."""
    services = services or get_outbound_services()
    now = services.clock()
    if not services.claims.claim(step.trigger_id, step.step, now):
        logger.info("Response step already sent", extra={"trigger_id": step.trigger_id, "step": step.step})
        return None
    try:
        link = _deliver_claimed(step, services, now)
    except Exception as err:  # claimed, so never retried: the triggering report says what happened
        logger.exception("Sending a response failed unexpectedly", extra={"trigger_id": step.trigger_id})
        link = ResponseLink(
            kind=step.kind,
            title=_title(step.kind),
            step=step.step,
            status="failed",
            summary=f"the emulator failed while sending it ({type(err).__name__}); the error is logged.",
        )
        _link_quietly(link, step, services)
    following = step.following()
    if following is not None:
        services.queue.send(following.model_dump(mode="json"), services.settings.response_follow_up_seconds)
    logger.info("Response step done", extra={"trigger_id": step.trigger_id, "kind": step.kind, "status": link.status})
    return link


def _deliver_claimed(step: SendStep, services: OutboundServices, now: float) -> ResponseLink:
    message = build_response(
        step.kind,
        step.request_bundle,
        step.request_headers,
        trigger_id=step.trigger_id,
        request_id=step.request_id,
        now=datetime.fromtimestamp(now, UTC),
    )
    facts = request_facts(step.request_bundle, step.request_headers)
    endpoint = endpoint_for(services.endpoints, step.organisation, facts.sender_service)
    if endpoint is not None and step.origin != "on-demand":  # on-demand ones were counted when ordered
        try:
            _admit(step.organisation, services, now)
        except BarsError as err:
            link = ResponseLink(
                kind=step.kind,
                title=_title(step.kind),
                step=step.step,
                status="not-sent",
                summary="not sent: " + " ".join(issue.diagnostics for issue in err.issues),
            )
            _link_quietly(link, step, services)
            return link
    delivery = _send(message, endpoint, services) if endpoint else Delivery(message, None, None)
    record = _record(delivery, step, _findings(delivery, step), services.clock())
    _save(services.reports, record)
    link = _link(delivery, step, record)
    _link_quietly(link, step, services)
    return link


def _save(store: ReportStore, record: ReportRecord) -> None:
    """Store one report (keyed by its id: a re-save replaces it; the HTML is rendered on read)."""
    if store.save_all([record]):
        raise RuntimeError(f"storing report {record.id} failed")


def _admit(organisation: str, services: OutboundServices, now: float) -> None:
    """Count one asynchronous response for ``organisation``; 429 once its hourly budget is spent."""
    outbound_limits.admit(services.counter, organisation, OutboundKind.ASYNC_RESPONSE, services.settings, now)


def _link_quietly(link: ResponseLink, step: SendStep, services: OutboundServices) -> None:
    try:
        _update_trigger_report(link, step, services)
    except Exception:  # the outbound report exists either way; the link is a convenience
        logger.exception("Linking the outbound report failed", extra={"report_id": link.report_id})


def handle_message(body: str, services: OutboundServices | None = None) -> ResponseLink | None:
    """One SQS message (a :class:`SendStep`). A malformed one is logged and dropped."""
    try:
        step = SendStep.model_validate_json(body)
    except ValidationError:
        logger.error("Malformed response message", extra={"body": body[:200]})
        return None
    return deliver(step, services)


# -- on demand -----------------------------------------------------------------------------------


class ResponseOrder(BaseModel):
    """The body of ``POST /tkw/responses``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    report_id: str = Field(min_length=1, max_length=100)
    kind: str


def _order(request: ApiRequest) -> ResponseOrder:
    example = '{"report_id": "<report id of your earlier $process-message>", "kind": "interim"}'
    try:
        data = json.loads(request.body or b"")
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise BarsError.of(400, "REC_BAD_REQUEST", "invalid", f"The body must be a JSON object: {example}.")
    try:
        order = ResponseOrder.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in err.errors())
        raise BarsError.of(400, "REC_BAD_REQUEST", "invalid", f"{problems}. Expected {example}.") from None
    if order.kind not in ON_DEMAND_KINDS:
        raise BarsError.of(
            400,
            "REC_BAD_REQUEST",
            "code-invalid",
            f"kind {order.kind[:40]!r} is not one of {', '.join(ON_DEMAND_KINDS)}.",
            expression="kind",
        )
    return order


REPORT_WAIT_SECONDS = 5.0


def _first_values(headers: Mapping[str, list[str]]) -> dict[str, str]:
    return {name: values[0] for name, values in headers.items() if values}


def request_response(request: ApiRequest, caller: Caller, services: OutboundServices | None = None) -> ApiResponse:
    """``POST /tkw/responses``: send one response of ``kind`` to an earlier request, now (queued)."""
    organisation = caller.organisation(request)
    order = _order(request)
    from tkw.services import get_services

    # Read-your-writes: a report id just returned may still be with the report worker.
    get_services().report_handoff.wait_for(order.report_id, REPORT_WAIT_SECONDS)
    services = services or get_outbound_services()
    record = services.reports.get(organisation, order.report_id, services.clock())
    if record is None or record.direction != "inbound":
        raise BarsError.of(
            404,
            "REC_NOT_FOUND",
            "not-found",
            f"No report {order.report_id[:80]!r} of a request exists for your organisation.",
        )
    try:
        bundle = json.loads(record.exchange.request_body or "")
    except ValueError:
        bundle = None
    if record.operation != "process-message" or not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BarsError.of(
            422,
            "REC_UNPROCESSABLE_ENTITY",
            "processing",
            f"Report {record.id} is not of a $process-message request with a message Bundle: there is nothing "
            "to respond to.",
        )
    kind: ResponseKind = order.kind  # type: ignore[assignment]
    step = SendStep(
        trigger_id=str(uuid.uuid4()),
        organisation=organisation,
        steps=[kind],
        request_id=str(uuid.uuid4()),
        report_id=str(uuid.uuid4()),
        trigger_report_id=record.id,
        origin="on-demand",
        request_bundle=bundle,
        request_headers=_kept_headers(_first_values(record.exchange.request_headers)),
    )
    _admit(organisation, services, services.clock())
    services.queue.send(step.model_dump(mode="json"), 0)
    location = f"/tkw/reports/{step.report_id}"
    body = {
        "kind": kind,
        "title": _title(kind),
        "status": "queued",
        "trigger_report_id": record.id,
        "report_id": step.report_id,
        "links": {"report": location},
    }
    return ApiResponse(202, body, content_type=JSON, headers={"Location": location, "Cache-Control": "no-store"})
