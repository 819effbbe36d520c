"""/tkw/receiver-runs and /tkw/receiver-suite: start, follow and list receiver test runs."""

from tkw import init_phase  # first: Powertools and the domain import with the collector off

# isort: split
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tkw.access import Caller
from tkw.edge import logger, metrics, resolver, serve_admin
from tkw.edge import tracer as tracer_for_function
from tkw.http import ApiRequest, ApiResponse
from tkw.receiver import service
from tkw.services import Services

tracer = tracer_for_function()
app = resolver()


def _start(request: ApiRequest, _: Services, caller: Caller) -> ApiResponse:
    response = service.start_run(request, caller)
    metrics.add_metric(name=f"ReceiverRunsStart{response.status // 100}xx", unit=MetricUnit.Count, value=1)
    return response


@app.post("/tkw/receiver-runs")
@tracer.capture_method
def start_run() -> Response[str]:
    return serve_admin(_start, app)


@app.get("/tkw/receiver-runs")
@tracer.capture_method
def list_runs() -> Response[str]:
    return serve_admin(lambda request, _, caller: service.list_runs(request, caller), app)


@app.get("/tkw/receiver-runs/<run_id>")
@tracer.capture_method
def get_run(run_id: str) -> Response[str]:
    return serve_admin(lambda request, _, caller: service.get_run(request, caller, run_id), app)


@app.get("/tkw/receiver-suite")
@tracer.capture_method
def describe_suite() -> Response[str]:
    # What the suite contains is no secret: readable without a token, even in int mode.
    return serve_admin(lambda request, _, __: service.describe_suite(request), app, public=True)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_phase.end()
