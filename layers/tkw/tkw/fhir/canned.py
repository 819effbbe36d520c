"""Canned resources the proxy serves itself, loaded once per process."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from tkw import __version__
from tkw.http import ApiResponse

if TYPE_CHECKING:
    from tkw.pipeline import Exchange


@cache
def _load_text(name: str) -> str:
    return resources.files("tkw.fhir").joinpath("data", name).read_text(encoding="utf-8")


def load_json(name: str) -> Any:
    """A fresh copy of a data file (callers may mutate it)."""
    return json.loads(_load_text(name))


def proxy_capability_statement() -> dict[str, Any]:
    """The BaRS API's own CapabilityStatement: GET /metadata without NHSD-Target-Identifier."""
    return load_json("proxy-capability-statement.json")  # type: ignore[no-any-return]


def ping_body() -> dict[str, str]:
    return {"version": __version__, "revision": "tkw-emulator", "releaseId": __version__, "commitId": "local"}


def searchset(entries: list[dict[str, Any]], self_url: str, total: int | None = None) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Bundle"]},
        "type": "searchset",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "total": len(entries) if total is None else total,
        "link": [{"relation": "self", "url": self_url}],
        "entry": entries,
    }


def default_response(exchange: Exchange) -> ApiResponse:
    """Foundation answers until the sentinel engine takes over: valid, empty where nothing is known."""
    from tkw.routes import Operation

    op = exchange.operation
    if op is Operation.PING:
        return ApiResponse(200, ping_body(), content_type="application/json")
    if op is Operation.METADATA:
        return ApiResponse(200, proxy_capability_statement())
    if op is Operation.PROCESS_MESSAGE:
        return ApiResponse(200, exchange.bundle)
    req = exchange.request
    return ApiResponse(200, searchset([], req.base_url + req.path))
