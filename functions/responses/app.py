"""POST /tkw/responses: send one response (interim, full, reject, dna, out-of-area) to an earlier request."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tkw.edge import serve_admin
from tkw.outbound.service import request_response

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver()


@app.post("/tkw/responses")
@tracer.capture_method
def send_response() -> Response[str]:
    return serve_admin(lambda request, _, caller: request_response(request, caller), app, logger)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
