"""The receiver's answer to an admitted BaRS request.

``GET /metadata`` without ``NHSD-Target-Identifier`` is the proxy's own CapabilityStatement (it never
reaches a receiver). Requests for the stateful 111-to-ED patient go to ``tkw.stateful``; everything
else is answered by TKW's sentinel scenarios (``tkw.scenarios``). ``tkw.stateful`` is imported by the
first message or read that may be stateful: GET /metadata and /Slot, and their cold starts, never
need it.
"""

from __future__ import annotations

from typing import Any

from tkw.context import Answer, RequestContext
from tkw.fhir import canned
from tkw.http import ApiResponse
from tkw.routes import Operation
from tkw.scenarios.engine import get_engine
from tkw.services import Services

_READS = {Operation.APPOINTMENT_READ: "Appointment", Operation.SERVICE_REQUEST_READ: "ServiceRequest"}


def respond(ctx: RequestContext, services: Services) -> Answer:
    operation = ctx.operation
    if operation is Operation.METADATA and ctx.target is None:
        return Answer(ApiResponse(200, canned.proxy_capability_statement()))
    if operation is Operation.PROCESS_MESSAGE:
        stateful_answer = _stateful_message(ctx, services)
        if stateful_answer is not None:
            return stateful_answer
    answer = get_engine(services.settings.tkw_edition).respond(ctx)
    # Ids TKW's table does not know may be ones the stateful scenario issued.
    if answer.response.status == 404 and operation in _READS:
        found = _stateful_read(ctx, services, _READS[operation])
        if found is not None:
            return Answer(ApiResponse(200, found), scenario="stateful-read")
    return answer


def _stateful_message(ctx: RequestContext, services: Services) -> Answer | None:
    from tkw import stateful

    found = ctx.classification
    if found.nhs_number != stateful.STATEFUL_NHS_NUMBER or not stateful.handles(found.kind):
        return None
    assert ctx.bundle is not None
    ods = stateful.organisation_from_header(ctx.request.header("NHSD-End-User-Organisation"))
    result = stateful.apply(found.kind, ctx.bundle, ods, services.state, services.clock)
    if result is None:
        return None
    response = ApiResponse(result.status, stateful.with_assigned_id(ctx.bundle, result))
    return Answer(response, scenario=f"stateful-{result.event.value}")


def _stateful_read(ctx: RequestContext, services: Services, resource_type: str) -> dict[str, Any] | None:
    from tkw import stateful

    request = ctx.request
    resource_id = (request.path_params.get("id") or request.path.rstrip("/").rsplit("/", 1)[-1]).strip().lower()
    read = stateful.read_appointment if resource_type == "Appointment" else stateful.read_service_request
    return read(resource_id, services.state, ctx.now)
