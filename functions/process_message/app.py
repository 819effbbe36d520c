"""POST /$process-message: bookings, referrals, validations, their cancellations and responses."""

from tkw import init_phase  # first: Powertools and the domain import with the collector off

# isort: split
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tkw import BASE_PATH
from tkw.edge import bars_resolver, logger, metrics, serve
from tkw.edge import tracer as tracer_for_function
from tkw.routes import Operation

tracer = tracer_for_function()
app = bars_resolver()  # odd ids, trailing slash: still a BaRS answer


# "$" is escaped: Powertools compiles route rules as regular expressions.
@app.post(BASE_PATH + r"/\$process-message")
@tracer.capture_method
def process_message() -> Response[str]:
    return serve(Operation.PROCESS_MESSAGE, app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_phase.end()
