"""POST /tkw/responses: send one response (interim, full, reject, dna, out-of-area) to an earlier request."""

from tkw import init_phase  # first: Powertools and the domain import with the collector off

# isort: split
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tkw.edge import logger, metrics, resolver, serve_admin
from tkw.edge import tracer as tracer_for_function
from tkw.outbound.service import request_response

tracer = tracer_for_function()
app = resolver()


@app.post("/tkw/responses")
@tracer.capture_method
def send_response() -> Response[str]:
    return serve_admin(lambda request, _, caller: request_response(request, caller), app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_phase.end()
