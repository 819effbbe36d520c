"""Stub BaRS receivers on loopback, for the receiver-mode tests.

Imported as ``unit.receiver.receiver_stubs`` (``tests`` is on the pytest pythonpath).

* :func:`compliant_app` follows BaRS as a receiver should (IG "receiver processing order"): it
  re-checks the transaction headers, refuses a reused X-Request-Id, validates the message Bundle,
  assigns ids, serves what it created, answers errors with BaRS OperationOutcomes and echoes the
  transaction headers on every answer.
* :func:`defective_app` has the typical defects: no header echo, plain-JSON errors, wrong status
  codes, invalid FHIR, no duplicate detection, ids that change between create and read.
"""

from __future__ import annotations

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


@dataclass
class CompliantReceiver:
    """State of the compliant stub: what it created, and the request ids it has processed."""

    base: str = "/booking-and-referral/FHIR/R4"
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    seen_request_ids: set[str] = field(default_factory=set)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            self.requests.append((request.method, request.full_path, dict(request.headers)))
        response = self.answer(request)
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
                return self._error(400, "REC_BAD_REQUEST", "invalid", f"The {name} header is missing.")
            if not UUID.match(value):
                return self._error(400, "REC_BAD_REQUEST", "value", f"The {name} header is not a UUID.")
        with self.lock:
            request_id = str(request.headers["X-Request-Id"]).lower()
            if request_id in self.seen_request_ids:
                return self._error(409, "REC_CONFLICT", "duplicate", "This X-Request-Id was already processed.")
            self.seen_request_ids.add(request_id)
        if template == "/metadata":
            return self._fhir(200, capability_statement())
        if template == "/MessageDefinition":
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
        from pydantic import ValidationError

        try:
            body = json.loads(request.get_data())
        except ValueError:
            return self._error(400, "REC_BAD_REQUEST", "invalid", "The body is not JSON.")
        try:
            Bundle.model_validate(body)
        except (ValidationError, ValueError, TypeError) as err:
            return self._error(400, "REC_BAD_REQUEST", "structure", f"Not a valid Bundle: {str(err)[:200]}")
        if body.get("type") != "message" or not body.get("entry"):
            return self._error(400, "REC_BAD_REQUEST", "invariant", "Expected a message Bundle.")
        echoed = copy.deepcopy(body)
        header = echoed["entry"][0]["resource"]
        focus_ref = header["focus"][0]["reference"]
        for entry in echoed["entry"]:
            resource = entry["resource"]
            resource.setdefault("id", str(uuid.uuid4()))
            if entry.get("fullUrl") == focus_ref and resource["resourceType"] in {"Appointment", "ServiceRequest"}:
                key = (resource["resourceType"], resource["id"])
                with self.lock:
                    self.resources[key] = copy.deepcopy(resource)
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
