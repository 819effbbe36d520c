"""/tkw/state: GET the organisation's stateful 111-to-ED state; DELETE resets it at once."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tkw import state_api
from tkw.edge import serve_admin

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver()


@app.get("/tkw/state")
@tracer.capture_method
def get_state() -> Response[str]:
    return serve_admin(state_api.get_state, app, logger)


@app.delete("/tkw/state")
@tracer.capture_method
def reset_state() -> Response[str]:
    return serve_admin(state_api.reset_state, app, logger)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
