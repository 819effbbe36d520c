"""Foundation placeholder: replaced by the sentinel scenario engine (issue 3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tkw.http import ApiResponse

if TYPE_CHECKING:
    from tkw.pipeline import Exchange


def respond(exchange: Exchange) -> ApiResponse:
    from tkw.fhir import canned

    return canned.default_response(exchange)
