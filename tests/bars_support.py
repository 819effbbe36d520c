"""Shared test helpers: BaRS headers, fixture payloads, and FHIR validity checks."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from tkw.fhir.outcome import BarsError
from tkw.http import ApiRequest, ApiResponse

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
# Copies of ../shared/bars-spec (official examples and IG examples): CI needs no ../shared.
SPEC = FIXTURES / "bars-spec"
EXAMPLES = SPEC / "examples"
IG_EXAMPLES = SPEC / "ig-examples" / "examples"
# The live IG's examples (Applications 5 and 6 among them), newer than ig-examples.
LIVE_IG_EXAMPLES = SPEC / "ig-examples-live"
BASE = "/booking-and-referral/FHIR/R4"
DOS = "https://fhir.nhs.uk/Id/dos-service-id"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
ERROR_SYSTEM = "https://fhir.nhs.uk/Codesystem/http-error-codes"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"


def b64json(data: Any) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode()


def target(value: str = "2000011147", system: str = DOS) -> str:
    return b64json({"system": system, "value": value})


def organisation(ods: str = "A1001") -> str:
    return b64json({"resourceType": "Organization", "identifier": [{"system": ODS, "value": ods}], "name": "Test org"})


def bars_headers(target_value: str | None = "2000011147", ods: str = "A1001", **extra: str) -> dict[str, str]:
    """The headers a conforming sender sends (fresh transaction ids each call)."""
    headers = {
        "Accept": "application/fhir+json;version=1.0.0",
        "X-Request-Id": str(uuid.uuid4()),
        "X-Correlation-Id": str(uuid.uuid4()),
        "NHSD-End-User-Organisation": organisation(ods),
        "NHSD-Requesting-Software": b64json(
            {"resourceType": "Device", "identifier": [{"system": "https://supplier.example/Id/device", "value": "T-1"}]}
        ),
    }
    if target_value is not None:
        headers["NHSD-Target-Identifier"] = target(target_value)
    headers.update({k.replace("_", "-"): v for k, v in extra.items()})
    return headers


@cache
def process_message_request(body: bytes | None, content_type: str = "application/fhir+json") -> ApiRequest:
    """A ``$process-message`` POST with the BaRS headers, as the edge builds it from API Gateway's event."""
    headers = bars_headers() | {"Content-Type": content_type}
    return ApiRequest(
        method="POST",
        path=BASE + "/$process-message",
        headers={k.lower(): (v,) for k, v in headers.items()},
        body=body,
        base_url="http://127.0.0.1:3000",
    )


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def example(relative: str) -> Any:
    """A fresh copy of an official example, e.g. ``example("process_message/POST-body.json")``."""
    return copy.deepcopy(_load(EXAMPLES / relative))


def ig_example(name_prefix: str) -> Any:
    """A fresh copy of an IG example bundle by its prefix, e.g. ``ig_example("BOOKREQ01")``."""
    matches = sorted(IG_EXAMPLES.glob(f"{name_prefix}*.json"))
    assert matches, f"no IG example starting {name_prefix}"
    return copy.deepcopy(_load(matches[0]))


USE_CASE_SYSTEM = "https://fhir.nhs.uk/CodeSystem/usecases-categories-bars"


def with_use_case(bundle: Any, code: str = "a1t1", display: str = "111 to ED") -> Any:
    """The bundle with its use case (UCC) added, as the Application pages require: Appointment
    ``serviceCategory`` for a booking, ServiceRequest ``category`` otherwise. The official 1.0.0 API
    examples predate UCC."""
    coding = {"system": USE_CASE_SYSTEM, "code": code, "display": display}
    booking = bundle["entry"][0]["resource"].get("eventCoding", {}).get("code") == "booking-request"
    holder, element = ("Appointment", "serviceCategory") if booking else ("ServiceRequest", "category")
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == holder:
            entry["resource"].setdefault(element, []).append({"coding": [coding]})
    return bundle


def live_example(name_prefix: str) -> Any:
    """A fresh copy of a live IG example bundle by its prefix, e.g. ``live_example("REFREQ8B")``."""
    matches = sorted(LIVE_IG_EXAMPLES.glob(f"{name_prefix}*.json"))
    assert matches, f"no live IG example starting {name_prefix}"
    return copy.deepcopy(_load(matches[0]))


def for_patient(bundle: dict[str, Any], nhs_number: str | None) -> dict[str, Any]:
    """The bundle with every Patient's NHS number set to ``nhs_number`` (None: no NHS number at all)."""
    for patient in (e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"):
        others = [i for i in patient.get("identifier", []) if i.get("system") != NHS_NUMBER]
        if nhs_number is not None:
            others.insert(0, {"system": NHS_NUMBER, "value": nhs_number})
        if others:
            patient["identifier"] = others
        else:
            patient.pop("identifier", None)
    return bundle


def assert_valid_fhir(body: Any, *, profiles: bool = True) -> Any:
    """The body parses as the FHIR R4 (fhir.resources R4B) resource it claims to be, and (unless
    ``profiles`` is off, for deliberately faulty messages) conforms to the BaRS, UK Core and R4
    profiles that apply to it (no profile error)."""
    from fhir.resources.R4B import get_fhir_model_class

    assert isinstance(body, dict) and "resourceType" in body, f"not a FHIR resource: {str(body)[:200]}"
    model = get_fhir_model_class(body["resourceType"]).model_validate(body)
    if profiles:
        assert_conforms_to_profiles(body)
    return model


def assert_conforms_to_profiles(body: Any) -> None:
    from tkw.profiles import validate_body

    errors = validate_body(body).errors
    assert not errors, "profile errors:\n" + "\n".join(f"{e.expression}: {e.describe()}" for e in errors)


def assert_outcome(body: Any, bars_code: str, issue_code: str | None = None) -> dict[str, Any]:
    """A valid OperationOutcome whose first issue carries ``bars_code`` (and ``issue_code``)."""
    assert_valid_fhir(body)
    assert body["resourceType"] == "OperationOutcome", body
    issue = body["issue"][0]
    codings = issue["details"]["coding"]
    assert any(c["system"] == ERROR_SYSTEM and c["code"] == bars_code for c in codings), body
    if issue_code is not None:
        assert issue["code"] == issue_code, body
    assert issue.get("diagnostics"), "an error must say why"
    return issue


def proxy_headers(result: dict[str, Any]) -> dict[str, str]:
    """Headers of an API Gateway proxy result (Powertools answers REST events multi-valued)."""
    headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(str(v) for v in values)
    return headers


def answered(func: Callable[..., ApiResponse]) -> Callable[..., ApiResponse]:
    """What a ``/tkw`` function answers for ``func``: a raised BarsError becomes its OperationOutcome
    there (the edge's exception handler; the functions themselves are tested over events and HTTP)."""

    def call(*args: Any, **kwargs: Any) -> ApiResponse:
        try:
            return func(*args, **kwargs)
        except BarsError as err:
            return err.to_response()

    return call
