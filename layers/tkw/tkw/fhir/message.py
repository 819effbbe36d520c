"""Admitting a ``$process-message`` body: media type, size, JSON, and FHIR structure.

Each failure names where the problem is (line/column for JSON, the element path for FHIR), so a
sender can fix its payload from the OperationOutcome alone.
"""

from __future__ import annotations

import json
from typing import Any

from tkw.fhir.outcome import BarsError, Issue
from tkw.http import ApiRequest

_ACCEPTED_MEDIA_TYPES = ("application/fhir+json", "application/json")
_MAX_STRUCTURE_ISSUES = 20


def parse_message_body(request: ApiRequest, max_bytes: int) -> dict[str, Any]:
    _check_content_type(request.header("Content-Type"))
    body = request.body or b""
    if len(body) > max_bytes:
        raise BarsError.of(
            413,
            "REC_PAYLOAD_TOO_LARGE",
            "too-costly",
            f"The request body is {len(body)} bytes; the limit is {max_bytes} bytes (5 MB).",
        )
    if not body.strip():
        raise BarsError.of(
            400, "REC_BAD_REQUEST", "required", "The request body is empty; a FHIR message Bundle is required."
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BarsError.of(
            400, "REC_BAD_REQUEST", "invalid", f"The request body is not valid UTF-8 (byte {err.start})."
        ) from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise BarsError.of(
            400, "REC_BAD_REQUEST", "invalid", "The request body is nested too deeply to be FHIR JSON."
        ) from None
    except json.JSONDecodeError as err:
        raise BarsError.of(
            400,
            "REC_BAD_REQUEST",
            "invalid",
            f"The request body is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}.",
        ) from None
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        found = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        raise BarsError.of(
            400,
            "REC_BAD_REQUEST",
            "invalid",
            f"The request body must be a FHIR Bundle of type message; found {found!r}.",
            expression="Bundle",
        )
    check_bundle_structure(data)
    return data


def _check_content_type(content_type: str | None) -> None:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in _ACCEPTED_MEDIA_TYPES:
        raise BarsError.of(
            415,
            "REC_UNSUPPORTED_MEDIA_TYPE",
            "not-supported",
            f"Content-Type {content_type or '(none)'!r} is not supported on $process-message; "
            "send application/fhir+json.",
            header="Content-Type",
        )


def check_bundle_structure(data: dict[str, Any]) -> None:
    """Validate against the FHIR R4 model (fhir.resources R4B, the closest it ships)."""
    from fhir.resources.R4B.bundle import Bundle
    from pydantic import ValidationError

    try:
        Bundle.model_validate(data)
    except ValidationError as err:
        issues = [
            Issue(
                code="structure",
                bars_code="REC_BAD_REQUEST",
                diagnostics=f"{fhir_path(data, e['loc'])}: {e['msg']}",
                expression=(fhir_path(data, e["loc"]),),
            )
            for e in err.errors()[:_MAX_STRUCTURE_ISSUES]
        ]
        raise BarsError(status=400, issues=tuple(issues)) from None
    except RecursionError:
        raise BarsError.of(
            400, "REC_BAD_REQUEST", "structure", "The Bundle is nested too deeply to validate."
        ) from None


def fhir_path(data: Any, loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic error location into a FHIRPath-like path, naming resource types on the way:
    ``('entry', 2, 'resource', 'birthDate')`` → ``Bundle.entry[2].resource(Patient).birthDate``."""
    path = str(data.get("resourceType", "Bundle")) if isinstance(data, dict) else "Bundle"
    node: Any = data
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        node = node.get(part) if isinstance(node, dict) else None
        path += f".{part}"
        if part in ("resource", "contained") and isinstance(node, dict) and "resourceType" in node:
            path += f"({node['resourceType']})"
    return path
