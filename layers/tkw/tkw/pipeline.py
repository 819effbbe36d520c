"""One request through the emulator: proxy checks, body parsing, the responder, the echo headers.

Handlers call :func:`handle` with the operation their route serves. The order follows the live
BaRS proxy (BARS-API.md §4): what the proxy would reject is rejected here with the proxy's codes
before any receiver (scenario) logic runs.
"""

from __future__ import annotations

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
from tkw.routes import Operation, allowed_methods, find_route
from tkw.services import Services, get_services

if TYPE_CHECKING:
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
        return finalise(ApiResponse(200, canned.ping_body(), content_type="application/json"), request)
    exchange = Exchange(operation=operation, request=request, services=services)
    reporting = services.settings.reports_enabled
    report_id = organisation = None
    if reporting:
        from tkw.reports import new_report_id, report_organisation

        report_id, organisation = new_report_id(), report_organisation(request)
    findings: list[Finding] | None = None
    try:
        _admit(exchange)
        findings = _validate(exchange, organisation)
        if services.settings.strict_mode:
            from tkw.validation import strict_mode_error

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
        response.headers["TKW-Report-Id"] = report_id
        _record(exchange, response, findings, report_id, organisation)
    return response


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


def _record(
    exchange: Exchange, response: ApiResponse, findings: list[Finding], report_id: str, organisation: str
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
    if exchange.services.settings.auth_mode == "int":
        exchange.notes["application"] = _authorise(request, exchange.services)
    proxy.check_transaction_headers(request)
    exchange.target = proxy.check_target_identifier(request)
    if op is Operation.PROCESS_MESSAGE:
        from tkw.fhir.message_body import parse_message_body

        exchange.bundle = parse_message_body(request, exchange.services.settings.max_body_bytes)


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
    """
    route = find_route(request.path)
    if route is not None and request.method in route.methods:
        return handle(route.methods[request.method], request)
    if route is not None:
        allow = ", ".join(allowed_methods(route))
        err = BarsError.of(
            405,
            "SEND_METHOD_NOT_ALLOWED",
            "not-supported",
            f"The {request.method} method is not allowed on {route.template}; allowed: {allow}.",
            headers={"Allow": allow},
        )
    else:
        err = BarsError.of(
            404,
            "NOT_FOUND",
            "not-found",
            f"Endpoint {request.path} does not exist on the BaRS API (base path /booking-and-referral/FHIR/R4).",
        )
    return finalise(error_response(err), request)


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
