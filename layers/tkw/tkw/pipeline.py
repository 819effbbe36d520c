"""One BaRS request, top to bottom: admission → answer → hand-off for the report → response.

The order follows the live BaRS proxy (BARS-API.md §4): what the proxy would reject is rejected
with the proxy's codes before any receiver (scenario) logic runs. A refusal is an answer too, and
gets its report. Report production (every check, the duplicate ``X-Request-Id`` claim, the record,
the index) happens off this path (:mod:`tkw.reports.production`), except in ``STRICT_MODE`` where
the checks decide the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from tkw import answer, proxy
from tkw.context import Answer, RequestContext
from tkw.encoded_headers import TargetIdentifier
from tkw.fhir import canned
from tkw.fhir.message_body import parse_message_body
from tkw.fhir.outcome import BarsError
from tkw.http import ApiRequest, ApiResponse, loggable_path
from tkw.reports.job import ReportJob, new_report_id, report_organisation
from tkw.routes import STATUS_PATH, Operation, allowed_methods, find_route, meant_path
from tkw.services import Services, get_services

if TYPE_CHECKING:
    from tkw.reports.model import ResponseLink
    from tkw.validation.findings import Finding

REPORT_ID_HEADER = "TKW-Report-Id"
logger = Logger(child=True)


def handle(
    operation: Operation, request: ApiRequest, services: Services | None = None, *, serialised: bool = False
) -> ApiResponse:
    """The answer to one BaRS request; its report job handed over. ``serialised``: the answer's JSON
    body as the text sent (the edge's case), serialised once for the sender and the report job."""
    services = services or get_services()
    if operation is Operation.PING:
        body = canned.ping_body(services.settings.tkw_edition)
        return ApiResponse(200, body, content_type="application/json")
    now = services.clock()
    ctx: RequestContext | None = None
    findings: tuple[Finding, ...] | None = None
    report_id = new_report_id(now) if services.settings.reports_enabled else None
    try:
        ctx = admit(operation, request, now, services)
        refusal = None
        if services.settings.strict_mode:
            from tkw.reports.production import profile_findings_of
            from tkw.validation.strict import strict_mode_error

            # Strict mode: the checks and the profiles decide the answer, so both run here.
            findings = _strict_checks(ctx, services, report_id) + tuple(
                profile_findings_of(ctx.operation, request, ctx.bundle)
            )
            refusal = strict_mode_error(findings)
        if refusal is not None:
            result = Answer(refusal.to_response(), scenario="strict-mode")
        else:
            result = answer.respond(ctx, services)
    except BarsError as err:
        result = Answer(err.to_response())
    response = result.response
    if serialised and response.body is not None and not isinstance(response.body, str | bytes):
        response = replace(response, body=response.body_text())
    if report_id is not None:
        response.headers[REPORT_ID_HEADER] = report_id
        # Echoed here too (the edge echoes every response): the report shows the answer as sent.
        for name in ("X-Request-Id", "X-Correlation-Id"):
            value = request.header(name)
            if value is not None:
                response.headers[name] = value
        organisation = report_organisation(request)
        services.report_handoff.submit(
            ReportJob(
                report_id=report_id,
                organisation=organisation,
                received=now,
                operation=operation,
                request=request,
                response=response,
                scenario=result.scenario,
                bundle=ctx.bundle if ctx is not None else None,
                findings=findings,
                responses=tuple(_queue_responses(ctx, response, report_id, organisation)),
            )
        )
    return response


def _queue_responses(
    ctx: RequestContext | None, response: ApiResponse, report_id: str, organisation: str
) -> list[ResponseLink]:
    """A Response sentinel queues the emulator's async responses to the sender (after the answer).

    One queue send, and only for a sentinel (the common case is one table lookup). The links ride
    the report job, so the report says what was queued; the response worker updates them later.
    """
    if ctx is None or ctx.bundle is None:
        return []
    from tkw.outbound.messages import load_table, nhs_number_of

    if load_table().trigger_for(nhs_number_of(ctx.bundle)) is None:
        return []  # the common case: no sentinel, nothing more to import
    from tkw.outbound.service import queue_triggered_responses

    headers = {name: values[0] for name, values in ctx.request.headers.items() if values}
    try:
        return queue_triggered_responses(ctx.bundle, headers, response.status, report_id, organisation)
    except Exception:  # never the sender's problem: its answer is already decided
        logger.exception("Queueing the triggered responses failed", extra={"report_id": report_id})
        return []


def admit(operation: Operation, request: ApiRequest, now: float, services: Services) -> RequestContext:
    """Proxy-faithful checks, in the proxy's order; the admitted request's context."""
    if operation is Operation.METADATA and request.header("NHSD-Target-Identifier") is None:
        # The proxy serves its own CapabilityStatement without a target (or a token).
        return RequestContext(operation=operation, request=request, now=now)
    application, target = admit_proxy(request, services)
    bundle = None
    if operation is Operation.PROCESS_MESSAGE:
        bundle = parse_message_body(request, services.settings.max_body_bytes)
    return RequestContext(
        operation=operation, request=request, now=now, target=target, bundle=bundle, application=application
    )


def admit_proxy(request: ApiRequest, services: Services) -> tuple[str | None, TargetIdentifier]:
    """What the proxy checks before routing: token (int mode), transaction headers, the target and
    whether the Endpoint Catalogue holds it. The token's application and the decoded target."""
    application = None
    if services.settings.auth_mode == "int":
        application = authorise(request, services)
    proxy.check_transaction_headers(request)
    target = proxy.check_target_identifier(request)
    proxy.check_catalogue(target, services.catalogue, services.settings.unknown_targets, report_organisation(request))
    return application, target


def authorise(request: ApiRequest, services: Services) -> str:
    """``int`` mode: a valid bearer token from POST /oauth2/token, as API-M requires in INT."""
    from tkw.auth.bearer import require_bearer  # int mode only: the sandbox's cold starts skip it

    return require_bearer(request, services.auth, services.clock()).app_name


def _strict_checks(ctx: RequestContext, services: Services, report_id: str | None) -> tuple[Finding, ...]:
    """Strict mode: the checks (and the X-Request-Id reuse check) decide the answer, so they run here."""
    from tkw.reports.production import checks, claims_request_id

    probe = ReportJob(
        report_id=report_id or new_report_id(ctx.now),
        organisation=report_organisation(ctx.request),
        received=ctx.now,
        operation=ctx.operation,
        request=ctx.request,
        response=ApiResponse(0),
        bundle=ctx.bundle,
    )
    seen_before = claims_request_id(probe) and services.reports.claim_request_id(
        probe.organisation, (ctx.request.request_id or "").strip(), ctx.now, probe.report_id
    )
    return tuple(checks(probe, seen_before))


def unrouted_error(request: ApiRequest, services: Services | None = None) -> BarsError:
    """A path or method no BaRS route serves: the receiver's 405 REC_METHOD_NOT_ALLOWED with Allow on
    a known path (after the proxy's own checks: the live proxy forwards every method), else 404."""
    route = find_route(request.path)
    if route is not None:
        allow = ", ".join(allowed_methods(route))
        try:
            admit_proxy(request, services or get_services())
        except BarsError as proxy_error:
            return proxy_error
        return BarsError.of(
            405,
            "REC_METHOD_NOT_ALLOWED",
            "not-supported",
            f"This method is not allowed: {request.method} on {route.template}; allowed: {allow}.",
            headers={"Allow": allow},
        )
    meant = meant_path(request.path)
    hint = (
        f" TKW's endpoints are case sensitive: did you mean {loggable_path(meant)}?"
        if meant is not None
        else " (base path /booking-and-referral/FHIR/R4)."
    )
    diagnostics = f"Endpoint {loggable_path(request.path)} does not exist on the BaRS API.{hint}"
    return BarsError.of(404, "NOT_FOUND", "not-found", diagnostics)


def handle_unrouted(request: ApiRequest, services: Services | None = None) -> ApiResponse:
    """A request API Gateway routed to a function whose resolver refused it.

    A method the BaRS route does serve is answered by that operation: API Gateway routed it here
    although the resolver's own path rules refused it (an id with characters outside Powertools'
    pattern, a trailing slash), and it deserves the same answer as any other id. ``/_status`` is the
    platform's health check.
    """
    if request.path.rstrip("/") == STATUS_PATH and request.method in ("GET", "HEAD"):
        return _status(request, services or get_services())
    route = find_route(request.path)
    if route is not None and request.method in route.methods:
        return handle(route.methods[request.method], request, services)
    return unrouted_error(request, services).to_response()


def _status(request: ApiRequest, services: Services) -> ApiResponse:
    """``GET /_status``: needs an ``apikey`` header (any value here), else 401 text/plain, as the
    platform answers; the body follows ``examples/_status.json``."""
    if not (request.header("apikey") or "").strip():
        return ApiResponse(401, "Access Denied", content_type="text/plain")
    self_link = request.base_url + request.path.rstrip("/").removesuffix("/_status") + "/_ping"
    body = canned.status_body(self_link, services.settings.tkw_edition) if request.method == "GET" else None
    return ApiResponse(200, body, content_type="application/json")


__all__: Sequence[str] = (
    "REPORT_ID_HEADER",
    "admit",
    "admit_proxy",
    "authorise",
    "handle",
    "handle_unrouted",
    "unrouted_error",
)
