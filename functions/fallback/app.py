"""Every other path and method: 404 NOT_FOUND, or 405 with Allow on a known BaRS path."""

from tkw import init_phase  # first: Powertools and the domain import with the collector off

# isort: split
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tkw.edge import bars_resolver, logger, metrics
from tkw.edge import tracer as tracer_for_function

tracer = tracer_for_function()
# No routes: every request is "not found" here, and the BaRS resolver's not-found answer applies
# (405 with Allow on a known BaRS path, else 404 NOT_FOUND).
app = bars_resolver()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_phase.end()
