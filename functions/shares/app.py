"""Share links for assurance: create (/tkw/reports/{id}/share, /tkw/reports/share), list and withdraw
(/tkw/shares), and open without credentials (/tkw/shared/{token}).

Tracing never captures responses here, and the edge logs these paths with the token masked: a
link's token is as good as the report it shows.
"""

from tkw import init_phase  # first: Powertools and the domain import with the collector off

# isort: split
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tkw.edge import logger, metrics, resolver, serve_admin
from tkw.edge import tracer as tracer_for_function
from tkw.reports import share_api

tracer = tracer_for_function()
app = resolver()


@app.post("/tkw/reports/<report_id>/share")
@tracer.capture_method(capture_response=False)
def share_report(report_id: str) -> Response[str]:
    return serve_admin(
        lambda r, s, c: share_api.share_report(
            r, c, s.reports, s.shares, s.settings, report_id, s.clock(), s.report_handoff
        ),
        app,
    )


@app.post("/tkw/reports/share")
@tracer.capture_method(capture_response=False)
def share_zip() -> Response[str]:
    return serve_admin(
        lambda r, s, c: share_api.share_zip(r, c, s.reports, s.shares, s.settings, s.clock(), s.report_handoff), app
    )


@app.get("/tkw/shares")
@tracer.capture_method
def list_shares() -> Response[str]:
    return serve_admin(lambda r, s, c: share_api.list_shares(r, c, s.shares, s.clock()), app)


@app.delete("/tkw/shares/<token>")
@tracer.capture_method
def revoke_share(token: str) -> Response[str]:
    return serve_admin(lambda r, s, c: share_api.revoke_share(r, c, s.shares, token, s.clock()), app)


@app.get("/tkw/shared/<token>")
@tracer.capture_method(capture_response=False)
def open_share(token: str) -> Response[str]:
    # The link is the credential: anyone holding it may open it, in every mode.
    return serve_admin(lambda r, s, _: share_api.open_share(r, s.reports, s.shares, token, s.clock()), app, public=True)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


init_phase.end()
