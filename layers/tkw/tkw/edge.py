"""The Lambda edge: one Powertools resolver per function, with the emulator's cross-cutting rules.

:func:`resolver` gives every function the same behaviour around its routes, with Powertools' own
features rather than hand-written wrappers:

* exception handlers: a :class:`~tkw.fhir.outcome.BarsError` becomes its OperationOutcome, anything
  unexpected a logged 500 ``REC_SERVER_ERROR`` OperationOutcome (never a stack trace);
* a global middleware: the ``X-Request-Id``/``X-Correlation-Id`` echo, one log line per request and
  a status metric (exception-handler answers get the same through :func:`_finish`);
* a not-found handler: what API Gateway routed here but the resolver's rules refuse (odd ids, a
  trailing slash) still gets a BaRS answer or an OperationOutcome.

Handlers under ``functions/`` stay a few lines long: ``serve`` for BaRS routes, ``serve_admin`` for
the emulator's own ``/tkw/...`` endpoints.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from tkw.fhir.outcome import BarsError, server_error
from tkw.http import ApiRequest, ApiResponse, loggable_path
from tkw.observability import make_tracer
from tkw.routes import Operation
from tkw.services import Services, get_services

if TYPE_CHECKING:
    from tkw.access import Caller

# ``action(request, services, caller)``: see :mod:`tkw.access` for how to use ``caller``.
AdminAction = Callable[[ApiRequest, Services, "Caller"], ApiResponse]

ECHOED_HEADERS = ("X-Request-Id", "X-Correlation-Id")
_STARTED = "tkw_started"
_REQUEST = "tkw_request"

logger = Logger()
metrics = Metrics()
# Powertools keeps (and every 100 values prints) metrics even when POWERTOOLS_METRICS_DISABLED is
# set: with metrics off (the local runner), none are recorded at all.
_METRICS_ON = not is_metrics_disabled()


def tracer() -> Tracer:
    """The function's tracer: a no-op one wherever no X-Ray daemon collects traces."""
    return make_tracer()


def request_of(app: APIGatewayRestResolver) -> ApiRequest:
    """The request, built once per invocation from the proxy event."""
    found = app.context.get(_REQUEST)
    if isinstance(found, ApiRequest):
        return found
    request = ApiRequest.from_event(app.current_event.raw_event)
    # Powertools clears app.context after every invocation.
    app.context.update({_REQUEST: request, _STARTED: time.perf_counter()})
    # BaRS traces a journey by X-Correlation-Id: make it the log correlation id when sent.
    if request.correlation_id:
        logger.set_correlation_id(request.correlation_id)
    return request


def to_response(api_response: ApiResponse) -> Response[str]:
    return Response(
        status_code=api_response.status,
        content_type=api_response.content_type,
        body=api_response.body_text(),
        headers=api_response.headers,
    )


def _finish(app: APIGatewayRestResolver, response: Response[Any]) -> Response[Any]:
    """Echo the transaction headers (as the proxy and every BaRS receiver must), log, count."""
    request = request_of(app)
    for name in ECHOED_HEADERS:
        value = request.header(name)
        if value is not None:
            response.headers[name] = value
    started = app.context.get(_STARTED) or time.perf_counter()
    logger.info(
        "request",
        extra={
            "method": request.method,
            "path": loggable_path(request.path),
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )
    if _METRICS_ON:
        metrics.add_metric(name=f"Status{response.status_code // 100}xx", unit=MetricUnit.Count, value=1)
    return response


def _transaction(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    request_of(app)  # start the clock and set the correlation id before the route runs
    return _finish(app, next_middleware(app))


def resolver(unrouted: Callable[[ApiRequest], ApiResponse] | None = None) -> APIGatewayRestResolver:
    """A REST resolver with the emulator's error mapping, echo, logging and metrics.

    ``unrouted`` answers what API Gateway routed here but no route of the resolver matched;
    by default a 404 OperationOutcome.
    """
    app = APIGatewayRestResolver()
    app.use(middlewares=[_transaction])

    @app.exception_handler(BarsError)
    def bars_error(err: BarsError) -> Response[str]:
        return _finish(app, to_response(err.to_response()))

    @app.exception_handler(Exception)
    def unexpected(err: Exception) -> Response[str]:
        logger.exception("Unhandled error", extra={"path": loggable_path(request_of(app).path)})
        return _finish(app, to_response(server_error().to_response()))

    @app.not_found
    def not_found(_: Exception) -> Response[str]:
        request = request_of(app)
        if unrouted is not None:
            return to_response(unrouted(request))
        raise BarsError.of(
            404, "NOT_FOUND", "not-found", f"There is no emulator endpoint {loggable_path(request.path)}."
        )

    return app


def serve(operation: Operation, app: APIGatewayRestResolver) -> Response[str]:
    """Run one BaRS request through the pipeline."""
    from tkw import pipeline  # lazy: the /tkw functions never load the BaRS pipeline (cold start)

    return to_response(pipeline.handle(operation, request_of(app), serialised=True))


def bars_resolver() -> APIGatewayRestResolver:
    """The resolver of a BaRS function: requests its rules refuse still get the BaRS answer."""
    from tkw import pipeline

    return resolver(unrouted=pipeline.handle_unrouted)


def serve_admin(
    action: AdminAction,
    app: APIGatewayRestResolver,
    *,
    public: bool = False,
) -> Response[str]:
    """Run one of the emulator's own ``/tkw/...`` endpoints (``public``: no token even in int mode).

    ``action(request, services, caller)``: ``caller`` (:class:`tkw.access.Caller`) says which
    organisations the request may touch; read and write only under ``caller.organisation(request)``.
    In ``int`` mode :func:`tkw.access.authorise` needs a bearer token and binds the caller to its
    application's organisations; ``public`` routes (registering an application, the portal page, a
    share link) act for no organisation.
    """
    from tkw import access  # lazy: keeps the BaRS functions' cold start free of it

    services = get_services()
    request = request_of(app)
    caller = access.NOBODY if public else access.authorise(request, services)
    return to_response(action(request, services, caller))


__all__ = [
    "AdminAction",
    "logger",
    "metrics",
    "request_of",
    "resolver",
    "serve",
    "serve_admin",
    "to_response",
    "tracer",
]
