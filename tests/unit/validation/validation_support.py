"""Helpers for the validation rule tests: conforming requests, and picking findings apart."""

from __future__ import annotations

import json
from typing import Any

from bars_support import BASE, DOS, b64json, bars_headers

from tkw.encoded_headers import TargetIdentifier
from tkw.http import ApiRequest
from tkw.routes import Operation
from tkw.validation import Finding, ValidationInput, validate

PATHS = {
    Operation.PING: "/_ping",
    Operation.METADATA: "/metadata",
    Operation.MESSAGE_DEFINITION_SEARCH: "/MessageDefinition",
    Operation.SLOT_SEARCH: "/Slot",
    Operation.PROCESS_MESSAGE: "/$process-message",
    Operation.APPOINTMENT_SEARCH: "/Appointment",
    Operation.APPOINTMENT_READ: "/Appointment/c3f6145e-1a26-4345-b3f2-dccbcba62049",
    Operation.SERVICE_REQUEST_SEARCH: "/ServiceRequest",
    Operation.SERVICE_REQUEST_READ: "/ServiceRequest/79120f41-a431-4f08-bcc5-1e67006fcae0",
}
PRACTITIONER = {
    "resourceType": "PractitionerRole",
    "identifier": [{"system": "https://fhir.nhs.uk/Id/sds-role-profile-id", "value": "100334993514"}],
    "code": [{"coding": [{"system": "http://snomed.info/sct", "code": "62247001", "display": "General practitioner"}]}],
}
SOFTWARE = {
    "resourceType": "Device",
    "identifier": [{"system": "https://consumersupplier.com/Id/device-identifier", "value": "SUPP-APP-1"}],
    "deviceName": {"name": "Supplier product name", "type": "manufacturer-name"},
    "version": {"value": "1.0.0"},
}


def good_headers(target_value: str | None = "2000011147", **extra: str | None) -> dict[str, str]:
    """Every header a careful sender sends (the spec's examples); ``extra`` overrides, None removes."""
    headers = bars_headers(target_value=target_value)
    headers["NHSD-Requesting-Software"] = b64json(SOFTWARE)
    headers["NHSD-Requesting-Practitioner"] = b64json(PRACTITIONER)
    for name, value in extra.items():
        name = name.replace("_", "-")
        key = next((k for k in headers if k.lower() == name.lower()), name)
        if value is None:
            headers.pop(key, None)
        else:
            headers[key] = value
    return headers


def use_context_for(bundle: dict[str, Any]) -> str:
    """A use-context header that agrees with a message Bundle."""
    header = bundle["entry"][0]["resource"]
    event = header["eventCoding"]["code"]
    reason = header["reason"]["coding"][0]["code"]
    category, use_case = "booking", "a1t1"
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] not in ("ServiceRequest", "Appointment"):
            continue
        for concept in resource.get("category", []) + resource.get("serviceCategory", []):
            for coding in concept.get("coding", []):
                if coding.get("system", "").endswith("message-category-servicerequest"):
                    category = coding["code"]
                if coding.get("system", "").endswith("usecases-categories-bars"):
                    use_case = coding["code"]
    if category == "validation" and use_case == "a1t1":  # no use case in the payload: App 4's default
        use_case = "a4t1"
    return f"{use_case}|{category}|{event}|{reason}"


def destination_value(bundle: dict[str, Any]) -> str:
    return bundle["entry"][0]["resource"]["destination"][0]["endpoint"].rpartition("|")[2]


def request_for(
    operation: Operation,
    headers: dict[str, str] | None = None,
    query: dict[str, str | list[str]] | None = None,
    body: bytes | dict[str, Any] | None = None,
    path: str | None = None,
) -> ApiRequest:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    return ApiRequest(
        method="POST" if operation is Operation.PROCESS_MESSAGE else "GET",
        path=BASE + (path or PATHS[operation]),
        headers={k.lower(): (v,) for k, v in (headers if headers is not None else good_headers()).items()},
        query={k: tuple(v) if isinstance(v, list) else (v,) for k, v in (query or {}).items()},
        body=raw,
        base_url="http://127.0.0.1:3000",
    )


def run(
    operation: Operation,
    headers: dict[str, str] | None = None,
    query: dict[str, str | list[str]] | None = None,
    body: dict[str, Any] | bytes | None = None,
    *,
    seen_before: bool = False,
    target: TargetIdentifier | None = None,
    path: str | None = None,
) -> list[Finding]:
    request = request_for(operation, headers, query, body, path)
    parsed = body if isinstance(body, dict) else None
    return validate(ValidationInput(operation, request, parsed, target, seen_before))


def run_message(bundle: dict[str, Any], **header_overrides: str | None) -> list[Finding]:
    """Validate a $process-message whose headers agree with the bundle (target = its destination)."""
    try:
        target_value, use_context = destination_value(bundle), use_context_for(bundle)
    except (KeyError, IndexError):  # a deliberately broken MessageHeader: fall back to the booking's
        target_value, use_context = "111111111", "a1t1|booking|booking-request|new"
    headers = good_headers(
        target_value=target_value,
        **{"Content-Type": "application/fhir+json", "use-context": use_context} | header_overrides,
    )
    return run(Operation.PROCESS_MESSAGE, headers, body=bundle)


def failures(findings: list[Finding], prefix: str = "") -> list[Finding]:
    return [f for f in findings if not f.passed and f.id.startswith(prefix)]


def errors(findings: list[Finding], prefix: str = "") -> list[Finding]:
    return [f for f in failures(findings, prefix) if f.severity == "error"]


def warnings(findings: list[Finding], prefix: str = "") -> list[Finding]:
    return [f for f in failures(findings, prefix) if f.severity == "warning"]


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def target_token(value: str = "2000011147", system: str = DOS) -> TargetIdentifier:
    return TargetIdentifier(system=system, value=value)
