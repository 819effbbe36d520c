"""POST /oauth2/token: API-M's application-restricted (signed JWT) token endpoint, emulated.

Tracing never captures responses here: they carry access tokens.
"""

from tkw import init_phase  # first: Powertools and the domain import with the collector off

# isort: split
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tkw.auth.token_endpoint import issue_token
from tkw.edge import logger, metrics, request_of, resolver, to_response
from tkw.edge import tracer as tracer_for_function
from tkw.services import get_services

tracer = tracer_for_function()
app = resolver()


@app.post("/oauth2/token")
@tracer.capture_method(capture_response=False)
def token() -> Response[str]:
    services = get_services()
    response = issue_token(request_of(app), services.auth, services.clock())
    metrics.add_metric(name=f"TokenStatus{response.status}", unit=MetricUnit.Count, value=1)
    return to_response(response)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_phase.end()
