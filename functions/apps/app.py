"""/tkw/apps: register an application's public key and kid (→ API key), read it, remove it.

Public even in ``int`` mode: an application must exist before it can obtain a token. When
deployed, the route is protected by IAM (see template.yaml).
"""

from tkw import init_phase  # first: Powertools and the domain import with the collector off

# isort: split
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tkw.auth import apps
from tkw.edge import logger, metrics, resolver, serve_admin
from tkw.edge import tracer as tracer_for_function

tracer = tracer_for_function()
app = resolver()


@app.post("/tkw/apps")
@tracer.capture_method
def register_app() -> Response[str]:
    return serve_admin(lambda r, s, _: apps.register_app(r, s.auth, s.clock()), app, public=True)


@app.get("/tkw/apps/<api_key>")
@tracer.capture_method
def get_app(api_key: str) -> Response[str]:
    return serve_admin(lambda r, s, _: apps.get_app(r, s.auth, s.clock()), app, public=True)


@app.delete("/tkw/apps/<api_key>")
@tracer.capture_method
def delete_app(api_key: str) -> Response[str]:
    return serve_admin(lambda r, s, _: apps.delete_app(r, s.auth, s.clock()), app, public=True)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_phase.end()
