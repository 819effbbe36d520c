"""/tkw/portal: the TKW Portal, emulated (the page and its static files; no token needed to load it)."""

from tkw import init_phase  # first: Powertools and the domain import with the collector off

# isort: split
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tkw import portal
from tkw.edge import logger, metrics, resolver, serve_admin
from tkw.edge import tracer as tracer_for_function

tracer = tracer_for_function()
app = resolver()


@app.get("/tkw/portal")
@tracer.capture_method
def page() -> Response[str]:
    # The page holds no data: it loads without a token even in int mode, then asks for one.
    return serve_admin(lambda request, _, __: portal.serve(request), app, public=True)


@app.get("/tkw/portal/<asset>")
@tracer.capture_method
def asset(asset: str) -> Response[str]:
    return serve_admin(lambda request, _, __: portal.serve(request), app, public=True)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_phase.end()
