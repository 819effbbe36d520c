"""Stub BaRS receivers on loopback, for the receiver-mode tests.

Imported as ``unit.receiver.receiver_stubs`` (``tests`` is on the pytest pythonpath).

* :func:`compliant_app` follows BaRS as a receiver should (IG "receiver processing order"): it
  re-checks the transaction headers, refuses a reused X-Request-Id, validates the message Bundle,
  assigns ids, serves what it created, answers errors with BaRS OperationOutcomes and echoes the
  transaction headers on every answer.
* :func:`defective_app` has the typical defects: no header echo, plain-JSON errors, wrong status
  codes, invalid FHIR, no duplicate detection, ids that change between create and read.
* :func:`yes_app` says yes to everything (200 and a plausible body): it must fail every error suite.
* :func:`failing_app` answers 500 REC_SERVER_ERROR to everything: it must fail every happy path.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bars_support import IG_EXAMPLES, SPEC
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

ERROR_SYSTEM = "https://fhir.nhs.uk/Codesystem/http-error-codes"
FHIR_JSON = "application/fhir+json"
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ROUTES: dict[str, tuple[str, ...]] = {
    "/metadata": ("GET",),
    "/MessageDefinition": ("GET",),
    "/Slot": ("GET",),
    "/$process-message": ("POST",),
    "/Appointment/{id}": ("GET",),
    "/ServiceRequest/{id}": ("GET",),
}


def _load(path: Any) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def capability_statement() -> Any:
    return _load(SPEC / "ig-examples" / "capabilitystatements" / "45bcbe62-718b-4874-a68c-b0fe39a76cf5.json")


def message_definitions() -> Any:
    folder = SPEC / "ig-examples" / "messagedefinitions"
    entries = [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": _load(f)} for f in sorted(folder.glob("*.json"))]
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}


def slots() -> Any:
    bundle = _load(next(IG_EXAMPLES.glob("BOOKREQRESP01*.json")))
    bundle.pop("total", None)
    return bundle


def outcome(bars_code: str, code: str, diagnostics: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "id": str(uuid.uuid4()),
        "meta": {"profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-OperationOutcome"]},
        "issue": [
            {
                "severity": "error",
                "code": code,
                "details": {"coding": [{"system": ERROR_SYSTEM, "code": bars_code}]},
                "diagnostics": diagnostics,
            }
        ],
    }


def _match(path: str) -> tuple[str, str | None] | None:
    for template in ROUTES:
        if "{id}" in template:
            prefix = template.removesuffix("{id}")
            if path.startswith(prefix) and "/" not in path[len(prefix) :] and path[len(prefix) :]:
                return template, path[len(prefix) :]
        elif path == template:
            return template, None
    return None


MESSAGE_DEFINITIONS = frozenset(_load(f)["url"] for f in (SPEC / "ig-examples" / "messagedefinitions").glob("*.json"))
USE_CASES = frozenset(
    c["code"]
    for c in _load(SPEC / "ig-examples" / "terminology" / "CodeSystem-usecases-categories-bars.json")["concept"]
)
USE_CASES_SYSTEM = "https://fhir.nhs.uk/CodeSystem/usecases-categories-bars"
# The events a receiver of requests accepts (BARS-API.md §6.2: a booking-response is never accepted).
ACCEPTED_EVENTS = frozenset({"booking-request", "servicerequest-request", "servicerequest-response"})
API_VERSIONS = frozenset({"1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"})


class Refusal(Exception):
    def __init__(self, status: int, bars_code: str, code: str, diagnostics: str) -> None:
        super().__init__(diagnostics)
        self.status, self.bars_code, self.code, self.diagnostics = status, bars_code, code, diagnostics


def _target(request: Request) -> str | None:
    """``system|value`` of the NHSD-Target-Identifier header, or None when unreadable."""
    raw = request.headers.get("NHSD-Target-Identifier")
    try:
        decoded = json.loads(base64.b64decode(raw or "", validate=True))
        return f"{decoded['system']}|{decoded['value']}"
    except (ValueError, KeyError, TypeError):
        return None


def _use_case(focus: dict[str, Any]) -> list[str]:
    """The use-case categories of the focus (ServiceRequest.category or Appointment.serviceCategory)."""
    concepts = (focus.get("category") or []) + (focus.get("serviceCategory") or [])
    return [
        c.get("code")
        for concept in concepts
        for c in concept.get("coding") or []
        if c.get("system") == USE_CASES_SYSTEM
    ]


@dataclass
class CompliantReceiver:
    """A correct minimal BaRS receiver for every Application (BARS-API.md §3.2 and §6.2, in that order).

    Re-checks the transaction headers and Accept version, refuses a reused X-Request-Id or Bundle.id,
    reads the message (JSON, FHIR Bundle, MessageHeader), checks use-context against the payload's
    use-case category, the event, the MessageDefinition and the destination, then creates (reason
    new) or updates (reason update: the focus id must be one it issued) and echoes the Bundle.
    """

    base: str = "/booking-and-referral/FHIR/R4"
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    seen_request_ids: set[str] = field(default_factory=set)
    seen_bundle_ids: set[str] = field(default_factory=set)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            self.requests.append((request.method, request.full_path, dict(request.headers)))
        try:
            response = self.answer(request)
        except Refusal as refusal:
            response = self._error(refusal.status, refusal.bars_code, refusal.code, refusal.diagnostics)
        for name in ("X-Request-Id", "X-Correlation-Id"):
            if request.headers.get(name):
                response.headers[name] = request.headers[name]
        return response(environ, start_response)

    def _fhir(self, status: int, body: Any, **headers: str) -> Response:
        return Response(json.dumps(body), status=status, content_type=FHIR_JSON, headers=headers)

    def _error(self, status: int, bars_code: str, code: str, diagnostics: str, **headers: str) -> Response:
        return self._fhir(status, outcome(bars_code, code, diagnostics), **headers)

    def answer(self, request: Request) -> Response:
        path = request.path.removeprefix(self.base) if request.path.startswith(self.base) else None
        matched = _match(path) if path is not None else None
        if matched is None:
            return self._error(404, "REC_NOT_FOUND", "not-found", "No such path.")
        template, ident = matched
        if request.method not in ROUTES[template]:
            return self._error(
                405,
                "REC_METHOD_NOT_ALLOWED",
                "not-supported",
                f"{request.method} is not allowed here.",
                Allow=", ".join(ROUTES[template]),
            )
        for name in ("X-Request-Id", "X-Correlation-Id"):
            value = request.headers.get(name)
            if not value:
                raise Refusal(400, "REC_BAD_REQUEST", "invalid", f"The {name} header is missing.")
            if not UUID.match(value):
                raise Refusal(400, "REC_BAD_REQUEST", "value", f"The {name} header is not a UUID.")
        versions = re.findall(r"version=([0-9.]+)", request.headers.get("Accept", ""))
        if versions and not API_VERSIONS.intersection(versions):
            raise Refusal(406, "REC_NOT_ACCEPTABLE", "processing", f"API version {versions[0]} is not supported.")
        with self.lock:
            request_id = str(request.headers["X-Request-Id"]).lower()
            if request_id in self.seen_request_ids:
                raise Refusal(409, "REC_CONFLICT", "duplicate", "This X-Request-Id was already processed.")
            self.seen_request_ids.add(request_id)
        if template == "/metadata":
            return self._fhir(200, capability_statement())
        if template == "/MessageDefinition":
            if not any(c.startswith("https://fhir.nhs.uk/Id/dos-service-id|") for c in request.args.getlist("context")):
                raise Refusal(400, "REC_BAD_REQUEST", "required", "context must name the service.")
            return self._fhir(200, message_definitions())
        if template == "/Slot":
            return self._fhir(200, slots())
        if template == "/$process-message":
            return self.process_message(request)
        kind = template.split("/")[1]
        with self.lock:
            found = self.resources.get((kind, str(ident)))
        if found is None:
            return self._error(404, "REC_NOT_FOUND", "not-found", f"No {kind} with that id.")
        return self._fhir(200, found)

    def process_message(self, request: Request) -> Response:
        from fhir.resources.R4B.bundle import Bundle
        from fhir.resources.R4B.messageheader import MessageHeader
        from pydantic import ValidationError

        def bad(code: str, diagnostics: str) -> Refusal:
            return Refusal(400, "REC_BAD_REQUEST", code, diagnostics)

        try:
            body = json.loads(request.get_data())
        except ValueError:
            raise bad("invalid", "The body is not JSON.") from None
        try:
            Bundle.model_validate(body)
            if body.get("type") != "message" or not body.get("entry"):
                raise bad("invariant", "Expected a message Bundle.")
            MessageHeader.model_validate(body["entry"][0]["resource"])
        except (ValidationError, ValueError, TypeError, KeyError) as err:
            raise bad("structure", f"Not a valid message Bundle: {str(err)[:200]}") from None
        header = body["entry"][0]["resource"]
        event = header["eventCoding"].get("code")
        reason = ((header.get("reason") or {}).get("coding") or [{}])[0].get("code")
        focus = next(
            (e["resource"] for e in body["entry"] if e.get("fullUrl") == header.get("focus", [{}])[0].get("reference")),
            None,
        )
        if focus is None:
            raise bad("invariant", "MessageHeader.focus does not resolve.")
        parts = (request.headers.get("use-context") or "").split("|")
        if not request.headers.get("use-context"):
            raise bad("required", "The use-context header is missing.")
        if len(parts) != 4 or not all(parts):
            raise bad("value", "use-context is not <use case>|<category>|<event>|<reason>.")
        ucc = _use_case(focus)
        if not ucc:
            raise bad("required", "The focus has no use-case category.")
        if any(code not in USE_CASES for code in ucc):
            raise bad("value", f"Unknown use-case category {ucc}.")
        if parts[0] not in ucc or parts[2] != event:
            raise bad("invariant", "use-context does not agree with the message.")
        if event not in ACCEPTED_EVENTS:
            raise bad("invariant", f"Event {event} is not accepted.")
        if header.get("definition") not in MESSAGE_DEFINITIONS:
            raise bad("invalid", "Unknown MessageDefinition.")
        if (header.get("destination") or [{}])[0].get("endpoint") != _target(request):
            raise bad("invalid", "The message is for another service.")
        with self.lock:
            if body.get("id") in self.seen_bundle_ids:
                raise Refusal(409, "REC_CONFLICT", "duplicate", "This Bundle.id was already processed.")
            self.seen_bundle_ids.add(body.get("id"))
            key = (focus["resourceType"], str(focus.get("id")))
            if reason == "update" and key not in self.resources:
                raise Refusal(404, "REC_NOT_FOUND", "not-found", f"No {key[0]} {key[1]} to update.")
            echoed = copy.deepcopy(body)
            for entry in echoed["entry"]:
                resource = entry["resource"]
                if reason != "update" or entry.get("fullUrl") != header["focus"][0]["reference"]:
                    resource.setdefault("id", str(uuid.uuid4()))
                if entry.get("fullUrl") == header["focus"][0]["reference"] and event != "servicerequest-response":
                    self.resources[(resource["resourceType"], resource["id"])] = copy.deepcopy(resource)
        return self._fhir(200, echoed)


def compliant_app(base: str = "/booking-and-referral/FHIR/R4") -> CompliantReceiver:
    return CompliantReceiver(base=base)


def defective_app(base: str = "/booking-and-referral/FHIR/R4") -> Callable[..., Any]:
    """A receiver with typical defects (see the module docstring)."""
    created: dict[str, dict[str, Any]] = {}

    def plain(status: int, body: Any) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/json")

    def answer(request: Request) -> Response:
        path = request.path.removeprefix(base)
        matched = _match(path)
        if matched is None or request.method not in ROUTES[matched[0]]:
            return plain(404, {"error": "not found"})  # wrong code for a wrong method, plain JSON
        template, ident = matched
        if template == "/metadata":
            return plain(200, {"resourceType": "CapabilityStatement", "status": "bogus"})  # invalid FHIR
        if template == "/MessageDefinition":
            return plain(200, message_definitions())
        if template == "/Slot":
            return plain(200, slots())  # never checks X-Request-Id
        if template == "/$process-message":
            try:
                body = json.loads(request.get_data())
            except ValueError:
                return plain(400, {"error": "bad json"})
            if not isinstance(body, dict) or not body.get("entry"):
                return plain(400, {"error": "bad bundle"})
            for entry in body["entry"]:
                resource = entry.get("resource") or {}
                resource.setdefault("id", str(uuid.uuid4()))
                created[resource["id"]] = resource
            return plain(200, body)  # accepts the same X-Request-Id twice
        if ident in created:
            resource = dict(created[ident])
            resource["id"] = str(uuid.uuid4())  # the id changes between create and read
            return plain(200, resource)
        return plain(400, {"error": "unknown id"})  # wrong code for an unknown id

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        return answer(Request(environ))(environ, start_response)

    return app


def _example_focus(kind: str) -> dict[str, Any]:
    """The focus resource of kind ``kind`` in an IG example message (BOOKREQ01 or REFREQ01)."""
    bundle = _load(next(IG_EXAMPLES.glob("BOOKREQ01*.json" if kind == "Appointment" else "REFREQ01*.json")))
    resource: dict[str, Any] = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind)
    return resource


def yes_app() -> Callable[..., Any]:
    """200 to everything, with a plausible body: what was asked for, or the message echoed with ids."""

    def answer(request: Request) -> Response:
        path = request.path
        if path.endswith("/metadata"):
            body: Any = capability_statement()
        elif path.endswith("/MessageDefinition"):
            body = message_definitions()
        elif path.endswith("/Slot"):
            body = slots()
        elif "/Appointment/" in path or "/ServiceRequest/" in path:
            kind, ident = path.rsplit("/", 2)[-2:]
            body = {**_example_focus(kind), "id": ident}
        else:
            try:
                body = json.loads(request.get_data() or b"{}")
            except ValueError:
                body = {}
            if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
                body = _load(next(IG_EXAMPLES.glob("REFREQ01*.json")))
            for entry in body.get("entry") or []:
                if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                    entry["resource"].setdefault("id", str(uuid.uuid4()))
        response = Response(json.dumps(body), status=200, content_type=FHIR_JSON)
        for name in ("X-Request-Id", "X-Correlation-Id"):
            if request.headers.get(name):
                response.headers[name] = request.headers[name]
        return response

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        return answer(Request(environ))(environ, start_response)

    return app


def failing_app() -> Callable[..., Any]:
    """500 REC_SERVER_ERROR to everything (a receiver whose back end is down)."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        body = outcome("REC_SERVER_ERROR", "exception", "The service failed.")
        return Response(json.dumps(body), status=500, content_type=FHIR_JSON)(environ, start_response)

    return app


@dataclass
class RunningStub:
    server: BaseWSGIServer
    thread: threading.Thread
    scheme: str = "http"
    base: str = "/booking-and-referral/FHIR/R4"

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{self.base}"


@contextmanager
def serve(app: Callable[..., Any], ssl_context: ssl.SSLContext | None = None) -> Iterator[RunningStub]:
    """Serve ``app`` on a free loopback port in a thread, for the duration of the block."""
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=ssl_context)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="stub-receiver")
    thread.start()
    try:
        yield RunningStub(server=server, thread=thread, scheme="https" if ssl_context else "http")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
