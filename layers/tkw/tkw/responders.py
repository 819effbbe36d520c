"""The receiver's answer to an admitted BaRS request: TKW's sentinel scenarios (``tkw.scenarios``).

``GET /metadata`` without ``NHSD-Target-Identifier`` is the proxy's own CapabilityStatement (it never
reaches a receiver); every other operation is answered by the scenario engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tkw.fhir import canned
from tkw.http import ApiResponse
from tkw.routes import Operation

if TYPE_CHECKING:
    from tkw.pipeline import Exchange


def respond(exchange: Exchange) -> ApiResponse:
    if exchange.operation is Operation.METADATA and exchange.target is None:
        return ApiResponse(200, canned.proxy_capability_statement())
    from tkw.scenarios.engine import respond as scenario_respond  # keeps _ping's cold start small

    return scenario_respond(exchange)
