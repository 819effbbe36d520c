"""/tkw/endpoints: a sender registers, lists, tests and removes where the emulator sends its responses."""

from tkw import init_phase  # first: Powertools and the domain import with the collector off

# isort: split
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tkw.access import Caller
from tkw.edge import logger, metrics, resolver, serve_admin
from tkw.edge import tracer as tracer_for_function
from tkw.http import ApiRequest, ApiResponse
from tkw.outbound import endpoints
from tkw.outbound.service import get_outbound_services
from tkw.services import Services

tracer = tracer_for_function()
app = resolver()


@app.get("/tkw/endpoints")
@tracer.capture_method
def list_endpoints() -> Response[str]:
    return serve_admin(
        lambda request, _, caller: endpoints.list_endpoints(request, caller, get_outbound_services().endpoints),
        app,
    )


@app.put("/tkw/endpoints/<service_id>")
@tracer.capture_method
def put_endpoint(service_id: str) -> Response[str]:
    def action(request: ApiRequest, services: Services, caller: Caller) -> ApiResponse:
        outbound = get_outbound_services()
        return endpoints.put_endpoint(request, caller, outbound.endpoints, outbound.guard, service_id, services.clock())

    return serve_admin(action, app)


@app.delete("/tkw/endpoints/<service_id>")
@tracer.capture_method
def delete_endpoint(service_id: str) -> Response[str]:
    return serve_admin(
        lambda request, _, caller: endpoints.delete_endpoint(
            request, caller, get_outbound_services().endpoints, service_id
        ),
        app,
    )


@app.post("/tkw/endpoints/<service_id>/ping")
@tracer.capture_method
def ping_endpoint(service_id: str) -> Response[str]:
    def action(request: ApiRequest, _: Services, caller: Caller) -> ApiResponse:
        outbound = get_outbound_services()
        return endpoints.ping_endpoint(request, caller, outbound.endpoints, outbound.transport_for, service_id)

    return serve_admin(action, app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_phase.end()
