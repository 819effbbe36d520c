"""/tkw/reports: the caller's validation reports (list, read, download) and zips of a selection."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tkw.edge import serve_admin
from tkw.reports import api

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver()


# serve_admin: in int mode the reports API needs a bearer token, as BaRS calls do.
@app.get("/tkw/reports")
@tracer.capture_method
def list_reports() -> Response[str]:
    return serve_admin(lambda r, s, c: api.list_reports(r, c, s.reports, s.clock()), app, logger)


@app.post("/tkw/reports/download")
@tracer.capture_method
def download_zip() -> Response[str]:
    return serve_admin(lambda r, s, c: api.download_zip(r, c, s.reports, s.clock()), app, logger)


@app.get("/tkw/reports/<report_id>")
@tracer.capture_method
def get_report(report_id: str) -> Response[str]:
    return serve_admin(lambda r, s, c: api.get_report(r, c, s.reports, report_id, s.clock()), app, logger)


@app.get("/tkw/reports/<report_id>/download")
@tracer.capture_method
def download_report(report_id: str) -> Response[str]:
    return serve_admin(lambda r, s, c: api.download_report(r, c, s.reports, report_id, s.clock()), app, logger)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
