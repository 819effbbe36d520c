"""One request through the emulator: proxy checks, body parsing, the responder, the echo headers.

Handlers call :func:`handle` with the operation their route serves. The order follows the live
BaRS proxy (BARS-API.md §4): what the proxy would reject is rejected here with the proxy's codes
before any receiver (scenario) logic runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from tkw import access, proxy
from tkw.access import NOBODY, Caller
from tkw.encoded_headers import HeaderError, TargetIdentifier, decode_target_identifier
from tkw.fhir import canned
from tkw.fhir.outcome import BarsError
from tkw.http import ApiRequest, ApiResponse, loggable_path
from tkw.routes import STATUS_PATH, Operation, allowed_methods, find_route, meant_path
from tkw.services import Services, get_services

if TYPE_CHECKING:
    from tkw.reports.model import ResponseLink
    from tkw.scenarios.classify import Classification
    from tkw.validation import Finding

logger = Logger(child=True)


@dataclass
class Exchange:
    """What a responder sees: the request, already admitted, and what the checks decoded."""

    operation: Operation
    request: ApiRequest
    services: Services
    target: TargetIdentifier | None = None
    bundle: dict[str, Any] | None = None  # the parsed $process-message body
    notes: dict[str, Any] = field(default_factory=dict)  # e.g. the scenario that answered

    @cached_property
    def classification(self) -> Classification:
        """What kind of BaRS message the body is (classified once, used by scenarios, state, checks)."""
        from tkw.scenarios.classify import classify

        if self.bundle is None:
            raise BarsError.of(400, "REC_BAD_REQUEST", "required", "The request body must be a FHIR message Bundle.")
        return classify(self.bundle)


def handle(operation: Operation, request: ApiRequest, services: Services | None = None) -> ApiResponse:
    services = services or get_services()
    if operation is Operation.PING:
        body = canned.ping_body(services.settings.tkw_edition)
        return finalise(ApiResponse(200, body, content_type="application/json"), request)
    exchange = Exchange(operation=operation, request=request, services=services)
    reporting = services.settings.reports_enabled
    report_id = organisation = None
    if reporting:
        from tkw.reports import new_report_id, report_organisation

        report_id, organisation = new_report_id(), report_organisation(request)
    findings: list[Finding] | None = None
    profiled = False  # profile validation done (strict mode does it before answering)
    try:
        _admit(exchange)
        findings = _validate(exchange, organisation)
        if services.settings.strict_mode:
            from tkw.validation import strict_mode_error

            findings += _profile(exchange)
            profiled = True
            strict_error = strict_mode_error(findings)
            if strict_error is not None:
                exchange.notes["scenario"] = "strict-mode"
                raise strict_error
        from tkw.answer import respond  # local import: keeps _ping's cold start small

        response = respond(exchange)
    except BarsError as err:
        response = error_response(err)
    except Exception:  # never a stack trace or a bare 500 to the sender
        logger.exception("Unhandled error", extra={"operation": str(operation)})
        response = error_response(
            BarsError.of(
                500,
                "REC_SERVER_ERROR",
                "exception",
                "The emulator failed unexpectedly while handling this request; the error is logged "
                "under this request's X-Correlation-Id.",
            )
        )
    response = finalise(response, request)
    if reporting and report_id is not None and organisation is not None:
        if findings is None:  # refused before validation: the report still says what was wrong
            findings = _validate(exchange, organisation)
        if not profiled:  # where the report is produced, after the sender's answer is made
            findings = findings + _profile(exchange)
        response.headers["TKW-Report-Id"] = report_id
        responses = _queue_responses(exchange, response, report_id, organisation)
        _record(exchange, response, findings, report_id, organisation, responses)
    return response


def _queue_responses(
    exchange: Exchange, response: ApiResponse, report_id: str, organisation: str
) -> list[ResponseLink]:
    """A Response sentinel queues the emulator's async responses to the sender (after the answer)."""
    if exchange.bundle is None:
        return []
    from tkw.outbound.messages import load_table, nhs_number_of

    if load_table().trigger_for(nhs_number_of(exchange.bundle)) is None:
        return []  # the common case: no sentinel, nothing more to import
    from tkw.outbound.service import queue_triggered_responses

    headers = {name: values[0] for name, values in exchange.request.headers.items() if values}
    try:
        return queue_triggered_responses(exchange.bundle, headers, response.status, report_id, organisation)
    except Exception:  # never the sender's problem: its answer is already decided
        logger.exception("Queueing the triggered responses failed", extra={"report_id": report_id})
        return []


def _validate(exchange: Exchange, organisation: str | None) -> list[Finding]:
    """Every TKW check on the request; findings only change the answer in strict mode."""
    from tkw.validation import ValidationInput, validate

    services, request = exchange.services, exchange.request
    seen_before = False
    if organisation is not None:
        try:
            from tkw.reports import is_duplicate_request

            seen_before = is_duplicate_request(services.reports, request, organisation, services.clock())
        except Exception:  # the duplicate check is a finding, never a reason to fail the sender
            logger.exception("Duplicate X-Request-Id check failed")
    target = exchange.target
    if target is None and request.header("NHSD-Target-Identifier"):
        try:
            target = decode_target_identifier(request.header("NHSD-Target-Identifier") or "")
        except HeaderError:
            target = None  # its finding says why
    try:
        return validate(
            ValidationInput(
                operation=exchange.operation,
                request=request,
                body=exchange.bundle,
                target=target,
                seen_before=seen_before,
                structure_validated=exchange.bundle is not None,
            )
        )
    except Exception:
        logger.exception("Validation failed unexpectedly")
        return []


def _profile(exchange: Exchange) -> list[Finding]:
    """Profile findings on the message (or resource) the sender sent; none for a body that is not one.

    Outside strict mode this runs where the report is built, once the answer is made and cannot
    change; the report worker will take it (with the report) off the request path entirely.
    """
    body = exchange.bundle
    if exchange.operation is Operation.PROCESS_MESSAGE:
        pass  # only a body that passed the proxy's parsing (exchange.bundle) is a message to profile
    elif exchange.request.method in ("POST", "PUT") and exchange.request.body:
        try:
            body = json.loads(exchange.request.body)
        except (ValueError, RecursionError):
            return []  # the structure checks already say why
    from tkw.validation.profile import profile_findings

    return profile_findings(body)


def _record(
    exchange: Exchange,
    response: ApiResponse,
    findings: list[Finding],
    report_id: str,
    organisation: str,
    responses: list[ResponseLink] | None = None,
) -> None:
    """Store the exchange's report. A storage failure is logged and counted, never the sender's problem."""
    from tkw.reports import build_report, save_report

    try:
        record = build_report(
            request=exchange.request,
            response=response,
            findings=findings,
            organisation=organisation,
            target=exchange.target,
            operation=exchange.operation,
            scenario=exchange.notes.get("scenario"),
            report_id=report_id,
            # The emulator's clock, not API Gateway's request time: retention counts from storage.
            time=datetime.fromtimestamp(exchange.services.clock(), UTC),
            responses=responses or [],
        )
        save_report(exchange.services.reports, record)
    except Exception:
        logger.exception("Storing the validation report failed", extra={"report_id": report_id})
        exchange.notes["report_failed"] = True


def _admit(exchange: Exchange) -> None:
    """Proxy-faithful checks, in the proxy's order."""
    op, request = exchange.operation, exchange.request
    if op is Operation.METADATA and request.header("NHSD-Target-Identifier") is None:
        return  # the proxy serves its own CapabilityStatement without a target (or a token)
    _admit_proxy(exchange)
    if op is Operation.PROCESS_MESSAGE:
        from tkw.fhir.message_body import parse_message_body

        exchange.bundle = parse_message_body(request, exchange.services.settings.max_body_bytes)


def _admit_proxy(exchange: Exchange) -> None:
    """What the proxy checks before routing: token (int mode), transaction headers, the target and
    whether the Endpoint Catalogue holds it."""
    request, services = exchange.request, exchange.services
    if services.settings.auth_mode == "int":
        exchange.notes["application"] = _authorise(request, services)
    proxy.check_transaction_headers(request)
    exchange.target = proxy.check_target_identifier(request)
    from tkw.reports import report_organisation

    proxy.check_catalogue(
        exchange.target, services.catalogue, services.settings.unknown_targets, report_organisation(request)
    )


def _authorise(request: ApiRequest, services: Services) -> str:
    """``int`` mode: a valid bearer token from POST /oauth2/token, as API-M requires in INT."""
    from tkw.auth.bearer import require_bearer

    return require_bearer(request, services.auth, services.clock()).app_name


AdminAction = Callable[[ApiRequest, Services, Caller], ApiResponse]


def handle_admin(
    request: ApiRequest,
    action: AdminAction,
    services: Services | None = None,
    *,
    public: bool = False,
) -> ApiResponse:
    """The emulator's own ``/tkw/...`` endpoints: same error shapes and echo headers as BaRS routes.

    Every action gets its :class:`~tkw.access.Caller` from :func:`tkw.access.authorise`: in ``int``
    mode a bearer token is needed and binds the caller to its application's organisations, unless
    ``public`` (registering an application, the portal page, a share link: no token, no organisation).
    """
    services = services or get_services()
    try:
        caller = NOBODY if public else access.authorise(request, services)
        response = action(request, services, caller)
    except BarsError as err:
        response = error_response(err)
    except Exception:
        logger.exception("Unhandled error", extra={"path": loggable_path(request.path)})
        response = error_response(
            BarsError.of(
                500,
                "REC_SERVER_ERROR",
                "exception",
                "The emulator failed unexpectedly; the error is logged under this request's X-Correlation-Id.",
            )
        )
    return finalise(response, request)


def handle_unrouted(request: ApiRequest) -> ApiResponse:
    """Any path or method no BaRS route serves: 405 with Allow on a known path, else 404.

    A request for a method the BaRS route does serve is answered by that operation: API Gateway
    routed it here although the resolver's own path rules refused it (an id with characters outside
    Powertools' pattern, a trailing slash), and it deserves the same answer as any other id.
    The live proxy forwards every method, so a method a route does not serve gets the receiver's 405
    REC_METHOD_NOT_ALLOWED (after the proxy's own checks). ``/_status`` is the platform's health check.
    """
    if request.path.rstrip("/") == STATUS_PATH and request.method in ("GET", "HEAD"):
        return finalise(_status(request), request)
    route = find_route(request.path)
    if route is not None and request.method in route.methods:
        return handle(route.methods[request.method], request)
    if route is not None:
        allow = ", ".join(allowed_methods(route))
        try:
            services = get_services()
            exchange = Exchange(operation=next(iter(route.methods.values())), request=request, services=services)
            _admit_proxy(exchange)
            err = BarsError.of(
                405,
                "REC_METHOD_NOT_ALLOWED",
                "not-supported",
                f"This method is not allowed: {request.method} on {route.template}; allowed: {allow}.",
                headers={"Allow": allow},
            )
        except BarsError as proxy_error:
            err = proxy_error
    else:
        meant = meant_path(request.path)
        hint = (
            f" TKW's endpoints are case sensitive: did you mean {loggable_path(meant)}?"
            if meant is not None
            else " (base path /booking-and-referral/FHIR/R4)."
        )
        diagnostics = f"Endpoint {loggable_path(request.path)} does not exist on the BaRS API.{hint}"
        err = BarsError.of(404, "NOT_FOUND", "not-found", diagnostics)
    return finalise(error_response(err), request)


def _status(request: ApiRequest) -> ApiResponse:
    """``GET /_status``: needs an ``apikey`` header (any value here), else 401 text/plain, as the
    platform answers; the body follows ``examples/_status.json``."""
    if not (request.header("apikey") or "").strip():
        return ApiResponse(401, "Access Denied", content_type="text/plain")
    edition = get_services().settings.tkw_edition
    self_link = request.base_url + request.path.rstrip("/").removesuffix("/_status") + "/_ping"
    body = canned.status_body(self_link, edition) if request.method == "GET" else None
    return ApiResponse(200, body, content_type="application/json")


def error_response(err: BarsError) -> ApiResponse:
    body = None if err.empty_body else err.outcome()
    return ApiResponse(status=err.status, body=body, headers=dict(err.headers))


def finalise(response: ApiResponse, request: ApiRequest) -> ApiResponse:
    """Echo the transaction headers, as the proxy and every BaRS receiver must."""
    for name in ("X-Request-Id", "X-Correlation-Id"):
        value = request.header(name)
        if value is not None:
            response.headers[name] = value
    return response
