"""``/tkw/state``: an organisation's stateful 111-to-ED state, and TKW's missing "reset now".

Real TKW resets only at night; its users asked for a self-service reset, so ``DELETE`` resets the
caller's organisation at once. The organisation is the ODS code of ``NHSD-End-User-Organisation``,
one the caller is bound to in int mode (:mod:`tkw.access`).
"""

from __future__ import annotations

from tkw import stateful
from tkw.access import Caller
from tkw.http import ApiRequest, ApiResponse
from tkw.services import Services


def get_state(request: ApiRequest, services: Services, caller: Caller) -> ApiResponse:
    ods = caller.organisation(request)
    view = stateful.get_state(ods, services.state, services.clock())
    return ApiResponse(200, view.to_json(), content_type="application/json", headers={"Cache-Control": "no-store"})


def reset_state(request: ApiRequest, services: Services, caller: Caller) -> ApiResponse:
    ods = caller.organisation(request)
    stateful.reset(ods, services.state)
    return ApiResponse(204, None, content_type="application/json")
