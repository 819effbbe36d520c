"""GET /_ping: readiness, no auth."""

from tkw import init_phase  # first: Powertools and the domain import with the collector off

# isort: split
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tkw import BASE_PATH
from tkw.edge import logger, metrics, resolver, to_response
from tkw.edge import tracer as tracer_for_function
from tkw.fhir import canned
from tkw.http import ApiResponse
from tkw.settings import get_settings

tracer = tracer_for_function()
app = resolver()


@app.get(f"{BASE_PATH}/_ping")
def ping() -> Response[str]:
    return to_response(ApiResponse(200, canned.ping_body(get_settings().tkw_edition), content_type="application/json"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_phase.end()
