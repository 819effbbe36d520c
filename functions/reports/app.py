"""/tkw/reports: the caller's validation reports (list, read, download) and zips of a selection."""

from tkw import init_phase  # first: Powertools and the domain import with the collector off

# isort: split
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tkw.edge import logger, metrics, resolver, serve_admin
from tkw.edge import tracer as tracer_for_function
from tkw.reports import api

tracer = tracer_for_function()
app = resolver()


# serve_admin: in int mode the reports API needs a bearer token, as BaRS calls do.
@app.get("/tkw/reports")
@tracer.capture_method
def list_reports() -> Response[str]:
    return serve_admin(lambda r, s, c: api.list_reports(r, c, s.reports, s.clock(), s.report_handoff), app)


@app.post("/tkw/reports/download")
@tracer.capture_method
def download_zip() -> Response[str]:
    return serve_admin(lambda r, s, c: api.download_zip(r, c, s.reports, s.clock(), s.report_handoff), app)


@app.get("/tkw/reports/<report_id>")
@tracer.capture_method
def get_report(report_id: str) -> Response[str]:
    return serve_admin(lambda r, s, c: api.get_report(r, c, s.reports, report_id, s.clock(), s.report_handoff), app)


@app.get("/tkw/reports/<report_id>/download")
@tracer.capture_method
def download_report(report_id: str) -> Response[str]:
    return serve_admin(
        lambda r, s, c: api.download_report(r, c, s.reports, report_id, s.clock(), s.report_handoff), app
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_phase.end()
