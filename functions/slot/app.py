"""GET /Slot: free (and busy) slots of a HealthcareService."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tkw import BASE_PATH
from tkw.edge import answer_unmatched, serve
from tkw.routes import Operation

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver()
answer_unmatched(app, logger, metrics)  # odd ids, trailing slash: still a BaRS answer


@app.get(f"{BASE_PATH}/Slot")
@tracer.capture_method
def search_slots() -> Response[str]:
    return serve(Operation.SLOT_SEARCH, app, logger, metrics)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
