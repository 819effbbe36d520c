"""The Lambda edge: Powertools' REST resolver event in, Powertools Response out.

Handlers under ``functions/`` use these helpers so that each stays a few lines long.
"""

from __future__ import annotations

import time

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from tkw import (
    observability,  # noqa: F401 - first: the X-Ray SDK only where traces are collected
    pipeline,
)
from tkw.http import ApiRequest, ApiResponse, loggable_path
from tkw.pipeline import AdminAction
from tkw.routes import Operation


def current_request(app: APIGatewayRestResolver, logger: Logger) -> ApiRequest:
    request = ApiRequest.from_event(app.current_event.raw_event)
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


def serve(operation: Operation | None, app: APIGatewayRestResolver, logger: Logger, metrics: Metrics) -> Response[str]:
    """Run one BaRS request through the pipeline (``operation=None``: no BaRS route matched)."""
    started = time.perf_counter()
    request = current_request(app, logger)
    api_response = pipeline.handle_unrouted(request) if operation is None else pipeline.handle(operation, request)
    logger.info(
        "request",
        extra={
            "operation": str(operation or "unrouted"),
            "method": request.method,
            "path": loggable_path(request.path),
            "status": api_response.status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )
    metrics.add_metric(name=f"Status{api_response.status // 100}xx", unit=MetricUnit.Count, value=1)
    return to_response(api_response)


def answer_unmatched(app: APIGatewayRestResolver, logger: Logger, metrics: Metrics) -> None:
    """Answer as BaRS does what API Gateway routed to ``app`` but the resolver's rules refuse.

    Powertools matches ``<id>`` against a narrower pattern than API Gateway's ``{id}`` (no backtick,
    no non-word Unicode, ...) and no trailing slash; without this its plain-JSON ``{"message": "Not
    found"}`` would reach the sender instead of an OperationOutcome.
    """

    def unmatched(_: Exception) -> Response[str]:
        return serve(None, app, logger, metrics)

    app.not_found(unmatched)


def serve_admin(
    action: AdminAction,
    app: APIGatewayRestResolver,
    logger: Logger,
    *,
    public: bool = False,
) -> Response[str]:
    """Run one of the emulator's own ``/tkw/...`` endpoints (``public``: no token even in int mode).

    ``action(request, services, caller)``: ``caller`` (:class:`tkw.access.Caller`) says which
    organisations the request may touch; read and write only under ``caller.organisation(request)``.
    """
    request = current_request(app, logger)
    api_response = pipeline.handle_admin(request, action, public=public)
    path = loggable_path(request.path)
    logger.info("request", extra={"method": request.method, "path": path, "status": api_response.status})
    return to_response(api_response)
