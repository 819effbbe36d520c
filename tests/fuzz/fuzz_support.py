"""What every answer of the emulator must be, whatever it was sent: the oracle of the fuzz tests.

- never a 5xx, except the TKW sentinels whose answer *is* a 5xx (``ALLOWED_5XX``);
- every error body a FHIR R4 OperationOutcome (fhir.resources R4B) with a BaRS code;
- every success body the valid FHIR resource it claims to be;
- ``application/fhir+json``, with ``X-Request-Id`` / ``X-Correlation-Id`` echoed when sent;
- nothing the runner logs at ERROR (validation and reporting swallow their exceptions, so a
  crash there is only visible in the log).

Imported as ``fuzz.fuzz_support`` (``tests`` is on the pytest pythonpath).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bars_support import BASE, ERROR_SYSTEM

# The sentinel scenarios whose answer is a server error (TKW's guide; scenarios.yaml rows
# booking-get-501, referral-new-500, service-request-get-503 and validation-get-501).
ALLOWED_READ_5XX: dict[tuple[str, str], int] = {
    ("Appointment", "0d440c22-7f25-4c6c-905d-2213d197d02a"): 501,
    ("ServiceRequest", "c337e8d8-fd5b-4a13-a8e4-0f6f4ac1bb1a"): 501,
    ("ServiceRequest", "4d65ddaa-4d09-41cd-87c9-aeb9c0c96352"): 503,
}
REFERRAL_500_NHS_NUMBER = "9853944189"
# What the pipeline answers when the emulator itself fails: never acceptable.
EMULATOR_FAILURE = "The emulator failed unexpectedly"
# Lines of the runner's output that mean something raised inside the emulator.
_LOGGED_FAILURE = re.compile(r'Traceback|"level":\s*"(ERROR|CRITICAL)"|\bERROR\b| raised\b')


@dataclass(frozen=True)
class Sent:
    """A request as it went over the wire (for the oracle and for reproducing a failure)."""

    method: str
    path: str  # below the server root, without the query string
    headers: Mapping[str, str]
    body: bytes | None = None
    query: str = ""

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None

    def describe(self) -> str:
        body = (self.body or b"")[:600]
        return (
            f"{self.method} {self.path}{'?' + self.query if self.query else ''}\n"
            f"headers: {dict(self.headers)}\nbody ({len(self.body or b'')} bytes): {body!r}"
        )


def expected_5xx(sent: Sent) -> int | None:
    """The 5xx the TKW sentinels give this request, or None when no 5xx is acceptable."""
    below = sent.path.removeprefix(BASE).strip("/").split("/")
    if sent.method == "GET" and len(below) == 2:
        return ALLOWED_READ_5XX.get((below[0], below[1].strip().lower()))
    if sent.method == "POST" and below == ["$process-message"] and sent.body:
        return 500 if _is_referral_500(sent.body) else None
    return None


def _is_referral_500(body: bytes) -> bool:
    from tkw.fhir.outcome import BarsError
    from tkw.message_kinds import MessageKind
    from tkw.scenarios.classify import classify

    try:
        bundle = json.loads(body)
    except (ValueError, RecursionError):
        return False
    if not isinstance(bundle, dict):
        return False
    try:
        found = classify(bundle)
    except BarsError:
        return False
    return found.kind is MessageKind.REFERRAL_NEW and found.nhs_number == REFERRAL_500_NHS_NUMBER


def fhir_problems(body: Any) -> str | None:
    """Why ``body`` is not a valid FHIR R4 resource (R4B models), or None."""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        return "not a FHIR resource"
    try:
        model = get_fhir_model_class(body["resourceType"])
    except KeyError:
        return f"unknown resourceType {body['resourceType']!r}"
    try:
        model.model_validate(body)
    except ValidationError as err:
        return f"invalid {body['resourceType']}: {str(err)[:400]}"
    return None


def outcome_problems(body: Any) -> str | None:
    """Why ``body`` is not a BaRS error (a valid OperationOutcome with a BaRS code), or None."""
    problem = fhir_problems(body)
    if problem is not None:
        return problem
    if body["resourceType"] != "OperationOutcome":
        return f"an error answered with a {body['resourceType']}"
    for issue in body.get("issue") or []:
        codings = ((issue.get("details") or {}).get("coding")) or []
        if not any(c.get("system") == ERROR_SYSTEM and c.get("code") for c in codings):
            return f"an issue without a BaRS code: {issue}"
        if not issue.get("diagnostics"):
            return f"an issue without diagnostics: {issue}"
    return None


def answer_problems(sent: Sent, status: int, headers: Mapping[str, str], raw: bytes) -> list[str]:
    """Everything wrong with the emulator's answer to ``sent`` (empty: all is well)."""
    problems: list[str] = []
    lowered = {k.lower(): v for k, v in headers.items()}
    allowed = expected_5xx(sent)
    if status >= 500 and status != allowed:
        problems.append(f"HTTP {status} (allowed here: {allowed or 'no 5xx'})")
    content_type = lowered.get("content-type", "")
    if not content_type.startswith("application/fhir+json"):
        problems.append(f"Content-Type {content_type!r}, not application/fhir+json")
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        problems.append(f"the body is not JSON: {raw[:200]!r}")
        return problems
    if status >= 400:
        problem = outcome_problems(body)
        if problem:
            problems.append(f"HTTP {status} error body: {problem}")
        elif EMULATOR_FAILURE in json.dumps(body):
            problems.append("the emulator's own unexpected-failure answer")
    elif 200 <= status < 300:
        problem = fhir_problems(body)
        if problem:
            problems.append(f"HTTP {status} body: {problem}")
    for name in ("X-Request-Id", "X-Correlation-Id"):
        value = sent.header(name)
        if value is not None and value.isascii() and value.strip() and lowered.get(name.lower()) != value.strip():
            problems.append(f"{name} not echoed: sent {value!r}, got {lowered.get(name.lower())!r}")
    return problems


def logged_failures(log: str) -> list[str]:
    """Lines of the runner's output that show an exception inside the emulator."""
    return [line for line in log.splitlines() if _LOGGED_FAILURE.search(line)]
