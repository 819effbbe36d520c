"""/tkw/apps: register an application's public key and kid (→ API key), read it, remove it.

Public even in ``int`` mode: an application must exist before it can obtain a token. When
deployed, the route is protected by IAM (see template.yaml).
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tkw.auth import apps
from tkw.edge import serve_admin

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver()


@app.post("/tkw/apps")
@tracer.capture_method
def register_app() -> Response[str]:
    return serve_admin(lambda r, s, _: apps.register_app(r, s.auth, s.clock()), app, logger, public=True)


@app.get("/tkw/apps/<api_key>")
@tracer.capture_method
def get_app(api_key: str) -> Response[str]:
    return serve_admin(lambda r, s, _: apps.get_app(r, s.auth, s.clock()), app, logger, public=True)


@app.delete("/tkw/apps/<api_key>")
@tracer.capture_method
def delete_app(api_key: str) -> Response[str]:
    return serve_admin(lambda r, s, _: apps.delete_app(r, s.auth, s.clock()), app, logger, public=True)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
