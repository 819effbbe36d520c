"""The receiver's answer to an admitted BaRS request.

``GET /metadata`` without ``NHSD-Target-Identifier`` is the proxy's own CapabilityStatement (it never
reaches a receiver). Requests for the stateful 111-to-ED patient go to ``tkw.stateful``; everything
else is answered by TKW's sentinel scenarios (``tkw.scenarios``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tkw.fhir import canned
from tkw.fhir.outcome import BarsError
from tkw.http import ApiResponse
from tkw.routes import Operation

if TYPE_CHECKING:
    from tkw.pipeline import Exchange

_READS = {Operation.APPOINTMENT_READ: "Appointment", Operation.SERVICE_REQUEST_READ: "ServiceRequest"}


def respond(exchange: Exchange) -> ApiResponse:
    operation = exchange.operation
    if operation is Operation.METADATA and exchange.target is None:
        return ApiResponse(200, canned.proxy_capability_statement())
    if operation is Operation.PROCESS_MESSAGE:
        stateful_answer = _stateful_message(exchange)
        if stateful_answer is not None:
            return stateful_answer
    from tkw.scenarios.engine import respond as scenario_respond  # keeps _ping's cold start small

    try:
        return scenario_respond(exchange)
    except BarsError as err:
        # Ids TKW's table does not know may be ones the stateful scenario issued.
        if err.status == 404 and operation in _READS:
            found = _stateful_read(exchange, _READS[operation])
            if found is not None:
                exchange.notes["scenario"] = "stateful-read"
                return ApiResponse(200, found)
        raise


def _stateful_message(exchange: Exchange) -> ApiResponse | None:
    from tkw import stateful

    found = exchange.classification
    if found.nhs_number != stateful.STATEFUL_NHS_NUMBER or not stateful.handles(found.kind):
        return None
    assert exchange.bundle is not None
    ods = stateful.organisation_from_header(exchange.request.header("NHSD-End-User-Organisation"))
    result = stateful.apply(found.kind, exchange.bundle, ods, exchange.services.state, exchange.services.clock)
    if result is None:
        return None
    exchange.notes["scenario"] = f"stateful-{result.event.value}"
    return ApiResponse(result.status, stateful.with_assigned_id(exchange.bundle, result))


def _stateful_read(exchange: Exchange, resource_type: str) -> dict[str, Any] | None:
    from tkw import stateful

    request = exchange.request
    resource_id = (request.path_params.get("id") or request.path.rstrip("/").rsplit("/", 1)[-1]).strip().lower()
    read = stateful.read_appointment if resource_type == "Appointment" else stateful.read_service_request
    return read(resource_id, exchange.services.state, exchange.services.clock())
