"""API-M's JSON answers: ``{"error", "error_description", "message_id"}`` on failure."""

from __future__ import annotations

from typing import Any

from tkw.http import ApiResponse

JSON = "application/json"
# RFC 6749 §5.1: token responses must not be cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> ApiResponse:
    return ApiResponse(status=status, body=body, content_type=JSON, headers={**NO_STORE, **(headers or {})})


def oauth_error(status: int, error: str, description: str, message_id: str) -> ApiResponse:
    return json_response(status, {"error": error, "error_description": description, "message_id": message_id})
