"""One BaRS request, top to bottom: admission → answer → hand-off for the report → response.

The order follows the live BaRS proxy (BARS-API.md §4): what the proxy would reject is rejected
with the proxy's codes before any receiver (scenario) logic runs. A refusal is an answer too, and
gets its report. Report production (every check, the duplicate ``X-Request-Id`` claim, the record,
the index) happens off this path (:mod:`tkw.reports.production`), except in ``STRICT_MODE`` where
the checks decide the answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from tkw import answer, proxy
from tkw.auth.bearer import require_bearer
from tkw.context import Answer, RequestContext
from tkw.fhir import canned
from tkw.fhir.message_body import parse_message_body
from tkw.fhir.outcome import BarsError
from tkw.http import ApiRequest, ApiResponse
from tkw.reports.job import ReportJob, new_report_id
from tkw.reports.production import checks, claims_request_id
from tkw.reports.service import report_organisation
from tkw.routes import Operation, allowed_methods, find_route
from tkw.services import Services, get_services
from tkw.validation import Finding, strict_mode_error

REPORT_ID_HEADER = "TKW-Report-Id"


def handle(operation: Operation, request: ApiRequest, services: Services | None = None) -> ApiResponse:
    services = services or get_services()
    if operation is Operation.PING:
        return ApiResponse(200, canned.ping_body(), content_type="application/json")
    now = services.clock()
    ctx: RequestContext | None = None
    findings: tuple[Finding, ...] | None = None
    report_id = new_report_id(now) if services.settings.reports_enabled else None
    try:
        ctx = admit(operation, request, now, services)
        refusal = None
        if services.settings.strict_mode:
            findings = _strict_checks(ctx, services, report_id)
            refusal = strict_mode_error(findings)
        if refusal is not None:
            result = Answer(refusal.to_response(), scenario="strict-mode")
        else:
            result = answer.respond(ctx, services)
    except BarsError as err:
        result = Answer(err.to_response())
    response = result.response
    if report_id is not None:
        response.headers[REPORT_ID_HEADER] = report_id
        # Echoed here too (the edge echoes every response): the report shows the answer as sent.
        for name in ("X-Request-Id", "X-Correlation-Id"):
            value = request.header(name)
            if value is not None:
                response.headers[name] = value
        services.report_handoff.submit(
            ReportJob(
                report_id=report_id,
                organisation=report_organisation(request),
                received=now,
                operation=operation,
                request=request,
                response=response,
                scenario=result.scenario,
                bundle=ctx.bundle if ctx is not None else None,
                findings=findings,
            )
        )
    return response


def admit(operation: Operation, request: ApiRequest, now: float, services: Services) -> RequestContext:
    """Proxy-faithful checks, in the proxy's order; the admitted request's context."""
    if operation is Operation.METADATA and request.header("NHSD-Target-Identifier") is None:
        # The proxy serves its own CapabilityStatement without a target (or a token).
        return RequestContext(operation=operation, request=request, now=now)
    application = None
    if services.settings.auth_mode == "int":
        application = authorise(request, services)
    proxy.check_transaction_headers(request)
    target = proxy.check_target_identifier(request)
    bundle = None
    if operation is Operation.PROCESS_MESSAGE:
        bundle = parse_message_body(request, services.settings.max_body_bytes)
    return RequestContext(
        operation=operation, request=request, now=now, target=target, bundle=bundle, application=application
    )


def authorise(request: ApiRequest, services: Services) -> str:
    """``int`` mode: a valid bearer token from POST /oauth2/token, as API-M requires in INT."""
    return require_bearer(request, services.auth, services.clock()).app_name


def _strict_checks(ctx: RequestContext, services: Services, report_id: str | None) -> tuple[Finding, ...]:
    """Strict mode: the checks (and the X-Request-Id reuse check) decide the answer, so they run here."""
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


def unrouted_error(request: ApiRequest) -> BarsError:
    """A path or method no BaRS route serves: 405 with Allow on a known path, else 404."""
    route = find_route(request.path)
    if route is not None:
        allow = ", ".join(allowed_methods(route))
        return BarsError.of(
            405,
            "SEND_METHOD_NOT_ALLOWED",
            "not-supported",
            f"The {request.method} method is not allowed on {route.template}; allowed: {allow}.",
            headers={"Allow": allow},
        )
    return BarsError.of(
        404,
        "NOT_FOUND",
        "not-found",
        f"Endpoint {request.path} does not exist on the BaRS API (base path /booking-and-referral/FHIR/R4).",
    )


def handle_unrouted(request: ApiRequest, services: Services | None = None) -> ApiResponse:
    """A request API Gateway routed to a function whose resolver refused it.

    A method the BaRS route does serve is answered by that operation: API Gateway routed it here
    although the resolver's own path rules refused it (an id with characters outside Powertools'
    pattern, a trailing slash), and it deserves the same answer as any other id.
    """
    route = find_route(request.path)
    if route is not None and request.method in route.methods:
        return handle(route.methods[request.method], request, services)
    return unrouted_error(request).to_response()


__all__: Sequence[str] = ("REPORT_ID_HEADER", "admit", "authorise", "handle", "handle_unrouted")
