"""GET /tkw/organisations: the organisations the caller may act for (the portal offers only these)."""

from tkw import init_phase  # first: Powertools and the domain import with the collector off

# isort: split
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tkw.access import organisations_view
from tkw.edge import logger, metrics, resolver, serve_admin
from tkw.edge import tracer as tracer_for_function

tracer = tracer_for_function()
app = resolver()


@app.get("/tkw/organisations")
@tracer.capture_method
def organisations() -> Response[str]:
    return serve_admin(lambda _, s, caller: organisations_view(caller, s), app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_phase.end()
