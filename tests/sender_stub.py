"""A sender's own BaRS API, as a stub: records each message the emulator sends it and answers by path.

``/<mode>/...``: ``error`` answers 500 with a well-formed OperationOutcome, ``slow`` answers after
``slow_seconds``, anything else accepts the message (200, the Bundle echoed, transaction ids echoed).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from bars_support import ERROR_SYSTEM
from werkzeug.wrappers import Request, Response


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    bundle: dict[str, Any]

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def entries(self, kind: str) -> list[dict[str, Any]]:
        return [e["resource"] for e in self.bundle["entry"] if e["resource"]["resourceType"] == kind]

    @property
    def message_header(self) -> dict[str, Any]:
        return dict(self.bundle["entry"][0]["resource"])


@dataclass
class SenderStub:
    """A sender's BaRS API: records messages; answers as its ``mode`` says (ok, error, slow)."""

    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    slow_seconds: float = 3.0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        mode = request.path.strip("/").split("/")[0]
        body = json.loads(request.get_data() or b"{}")
        with self.lock:
            self.received.append(Received(request.path, dict(request.headers.items()), body))
        echo = {k: v for k, v in request.headers.items() if k.lower() in ("x-request-id", "x-correlation-id")}
        if mode == "slow":
            time.sleep(self.slow_seconds)
        if mode == "error":
            outcome = {
                "resourceType": "OperationOutcome",
                "issue": [
                    {
                        "severity": "error",
                        "code": "exception",
                        "details": {"coding": [{"system": ERROR_SYSTEM, "code": "REC_SERVER_ERROR"}]},
                        "diagnostics": "the stub fails on purpose",
                    }
                ],
            }
            response = Response(json.dumps(outcome), 500, content_type="application/fhir+json", headers=echo)
        else:
            response = Response(json.dumps(body), 200, content_type="application/fhir+json", headers=echo)
        return response(environ, start_response)

    def of(self, path_prefix: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path.startswith(path_prefix)]
