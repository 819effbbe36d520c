"""A minimal fixed-JSON HTTP server: the yardstick ``make bench`` divides the emulator's throughput by.

Issue 13 states its throughput targets as ratios to this server (the official BaRS sandbox answers
GET /metadata at about 0.06 times its rate on our 2-vCPU machine). Standard library only, so the yardstick
costs the same wherever the bench runs: ``ThreadingHTTPServer``, HTTP/1.1 keep-alive, one small FHIR
JSON body for any GET or POST, a request body read and discarded.

    PORT=8123 python bench/reference_server.py
"""

from __future__ import annotations

import contextlib
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = json.dumps(
    {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-26",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
    }
).encode()


class FixedJson(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as wrk and the emulator's runner use
    # Without TCP_NODELAY, Nagle's algorithm and the client's delayed ACK hold each small answer ~40 ms.
    disable_nagle_algorithm = True

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        """No access log: writing one line per request would be most of the work measured."""


def main() -> int:
    port = int(os.environ.get("PORT", "8123"))
    with ThreadingHTTPServer(("127.0.0.1", port), FixedJson) as server:
        server.daemon_threads = True
        print(f"reference server on http://127.0.0.1:{port}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
