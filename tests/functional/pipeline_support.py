"""Calling ``tkw.pipeline.handle`` as the edge does, and reading message Bundles, for the scenario tests."""

from __future__ import annotations

import json
from typing import Any

from bars_support import BASE, DOS, bars_headers, target

from tkw.http import ApiRequest, ApiResponse
from tkw.pipeline import handle
from tkw.routes import Operation

BASE_URL = "https://tkw.example.test"


def call(
    operation: Operation,
    method: str,
    path: str,
    *,
    query: dict[str, tuple[str, ...]] | None = None,
    body: Any = None,
    target_value: str | None = "2000011147",
    target_system: str = DOS,
) -> ApiResponse:
    headers = bars_headers(target_value=None)
    if target_value is not None:
        headers["NHSD-Target-Identifier"] = target(target_value, target_system)
    if body is not None:
        headers["Content-Type"] = "application/fhir+json"
    return handle(
        operation,
        ApiRequest(
            method=method,
            path=BASE + path,
            headers={k.lower(): (v,) for k, v in headers.items()},
            query=query or {},
            body=json.dumps(body).encode() if body is not None else None,
            base_url=BASE_URL,
        ),
    )


def entries(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def header(bundle: dict[str, Any]) -> dict[str, Any]:
    return entries(bundle, "MessageHeader")[0]


def focus(body: dict[str, Any]) -> dict[str, Any]:
    reference = header(body)["focus"][0]["reference"]
    return next(e["resource"] for e in body["entry"] if e["fullUrl"] == reference)
