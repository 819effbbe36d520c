"""Admitting a ``$process-message`` body: media type, size, JSON, and FHIR structure.

Each failure names where the problem is (line/column for JSON, the element path for FHIR), so a
sender can fix its payload from the OperationOutcome alone.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from tkw.content_memo import ContentMemo
from tkw.fhir.outcome import BarsError, Issue
from tkw.http import ApiRequest

_ACCEPTED_MEDIA_TYPES = ("application/fhir+json", "application/json")
_MAX_STRUCTURE_ISSUES = 20
# Validating against the FHIR model costs ~20 µs per object: 5 MB of tiny entries or contained
# resources would outlast the function's timeout. BaRS messages have tens of entries (the IG's
# largest, 25) and a few thousand objects and arrays.
MAX_BUNDLE_ENTRIES = 1000
MAX_JSON_CONTAINERS = 100_000


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
        data = json.loads(text, parse_constant=_not_json)
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
    except _NotJson as err:
        raise BarsError.of(400, "REC_BAD_REQUEST", "invalid", f"The request body is not valid JSON: {err}.") from None
    except ValueError:  # Python refuses to convert integers of more than 4300 digits
        raise BarsError.of(
            400, "REC_BAD_REQUEST", "invalid", "The request body is not usable JSON: a number in it is too long."
        ) from None
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        found = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        raise BarsError.of(
            400,
            "REC_BAD_REQUEST",
            "invalid",
            f"The request body must be a FHIR Bundle of type message; found {str(found)[:64]!r}.",
            expression="Bundle",
        )
    # A body admitted lately is admitted again without walking it (senders replay their fixtures).
    _ADMITTED.get(body, lambda: _admit_structure(data))
    return data


# Digests of bodies lately found valid FHIR within the cost limits (failures raise, so never kept).
_ADMITTED: ContentMemo[bool] = ContentMemo()


def _admit_structure(data: dict[str, Any]) -> bool:
    costly = too_costly(data)
    if costly is not None:
        raise BarsError.of(413, "REC_PAYLOAD_TOO_LARGE", "too-costly", costly, expression="Bundle")
    check_bundle_structure(data)
    return True


class _NotJson(ValueError):
    """What Python's parser accepts but JSON does not (NaN, Infinity, -Infinity)."""


def _not_json(constant: str) -> Any:
    raise _NotJson(f"{constant} is not a JSON value")


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
    try:
        errors = structure_errors(data)
    except RecursionError:
        raise BarsError.of(
            400, "REC_BAD_REQUEST", "structure", "The Bundle is nested too deeply to validate."
        ) from None
    if errors:
        issues = [
            Issue(
                code="structure",
                bars_code="REC_BAD_REQUEST",
                diagnostics=f"{fhir_path(data, e['loc'])}: {e['msg']}",
                expression=(fhir_path(data, e["loc"]),),
            )
            for e in errors[:_MAX_STRUCTURE_ISSUES]
        ]
        raise BarsError(status=400, issues=tuple(issues)) from None


def structure_errors(data: dict[str, Any]) -> list[dict[str, Any]]:
    """pydantic-style errors (``loc``, ``msg``, ``type``) of ``data`` against the R4B Bundle; [] if valid.

    fhir.resources' own validator raises TypeError or KeyError, not a ValidationError, on a
    ``resourceType`` that is not a string naming a resource (``"Apointment"``, ``{}``): those are
    found first, so a misspelt resource type is a 400 with its path, never a server error.
    Raises RecursionError when the Bundle is nested too deeply for the model.
    """
    from fhir.resources.R4B.bundle import Bundle
    from pydantic import ValidationError

    costly = too_costly(data)
    if costly is not None:
        return [{"loc": (), "msg": costly, "type": "too_costly"}]
    errors = _resource_type_errors(data)
    if errors:
        return errors
    try:
        Bundle.model_validate(data)
    except ValidationError as err:
        return [dict(e) for e in err.errors()]
    except (TypeError, KeyError, AttributeError) as err:  # the model library failing on a shape it did not expect
        return [{"loc": (), "msg": f"The Bundle cannot be read as FHIR R4 ({type(err).__name__}).", "type": "model"}]
    return []


def too_costly(data: dict[str, Any]) -> str | None:
    """Why validating ``data`` would cost too much (too many entries, objects or arrays), or None."""
    entries = data.get("entry")
    if isinstance(entries, list) and len(entries) > MAX_BUNDLE_ENTRIES:
        return (
            f"The Bundle has {len(entries)} entries; the emulator validates at most {MAX_BUNDLE_ENTRIES} "
            "(BaRS message Bundles have tens)."
        )
    count = 0
    stack: list[Any] = [data]
    while stack:  # stops as soon as the limit is passed, so it costs little either way
        node = stack.pop()
        count += 1
        if count > MAX_JSON_CONTAINERS:
            return f"The Bundle has more than {MAX_JSON_CONTAINERS} JSON objects and arrays; too many to validate."
        children = node.values() if isinstance(node, dict) else node
        stack.extend(child for child in children if isinstance(child, dict | list))
    return None


def _resource_type_errors(data: Any) -> list[dict[str, Any]]:
    """Every ``resourceType`` that is not a FHIR R4 resource type (iteratively: no depth limit)."""
    errors: list[dict[str, Any]] = []
    stack: list[tuple[tuple[int | str, ...], Any]] = [((), data)]
    while stack:
        loc, node = stack.pop()
        children: Any = ()
        if isinstance(node, dict):
            if "resourceType" in node and not _is_resource_type(node["resourceType"]):
                shown = repr(node["resourceType"])[:64]
                errors.append(
                    {
                        "loc": (*loc, "resourceType"),
                        "msg": f"{shown} is not a FHIR R4 resource type.",
                        "type": "resource_type",
                    }
                )
            children = node.items()
        elif isinstance(node, list):
            children = enumerate(node)
        stack.extend(((*loc, key), value) for key, value in children if isinstance(value, dict | list))
    return sorted(errors, key=lambda e: [(0, p, "") if isinstance(p, int) else (1, 0, p) for p in e["loc"]])


@lru_cache(maxsize=256)
def _known_resource_type(name: str) -> bool:
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.resource import Resource

    try:
        return issubclass(get_fhir_model_class(name), Resource)
    except (KeyError, ValueError):
        return False


def _is_resource_type(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 64 and _known_resource_type(value)


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
        if part in ("resource", "contained") and isinstance(node, dict) and isinstance(node.get("resourceType"), str):
            path += f"({node['resourceType'][:64]})"
    return path
