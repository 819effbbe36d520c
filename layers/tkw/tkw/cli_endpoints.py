"""``tkw endpoints set|list|remove``: where a running emulator sends your organisation's responses."""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"


def _organisation(ods: str) -> str:
    organisation = {"resourceType": "Organization", "identifier": [{"system": ODS_SYSTEM, "value": ods}]}
    return base64.b64encode(json.dumps(organisation).encode()).decode()


def _call(args: argparse.Namespace, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    from tkw.cli import _http_json

    url = args.emulator.rstrip("/") + path
    return _http_json(
        method, url, body, args.token, extra_headers={"NHSD-End-User-Organisation": _organisation(args.ods)}
    )


def _problem(status: int, body: Any) -> int:
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        text = "; ".join(str(i.get("diagnostics", "")) for i in body.get("issue", []))
    else:
        text = json.dumps(body)[:500]
    print(f"error: HTTP {status}: {text}", file=sys.stderr)
    return 1


def _pem(path: str | None) -> str | None:
    return Path(path).read_text(encoding="ascii") if path else None


def set_endpoint(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout  # resolved per call: tests capture stdout
    body = {"url": args.url}
    for name in ("client_cert", "client_key", "ca_bundle"):
        pem = _pem(getattr(args, name))
        if pem:
            body[name] = pem
    status, answer = _call(args, "PUT", f"/tkw/endpoints/{args.service_id}", body)
    if status not in (200, 201):
        return _problem(status, answer)
    tls = " (TLS-MA)" if answer.get("mutual_tls") else ""
    verb = "registered" if status == 201 else "updated"
    print(f"{answer['service_id']}: {answer['url']}{tls} {verb} for {answer['organisation']}", file=out)
    return 0


def list_endpoints(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout  # resolved per call: tests capture stdout
    status, answer = _call(args, "GET", "/tkw/endpoints")
    if status != 200:
        return _problem(status, answer)
    if args.json_output:
        print(json.dumps(answer, indent=2), file=out)
        return 0
    if not answer["endpoints"]:
        print(f"No endpoints registered for {answer['organisation']}.", file=out)
    for endpoint in answer["endpoints"]:
        tls = " TLS-MA" if endpoint["mutual_tls"] else ""
        print(f"{endpoint['service_id']:<14} {endpoint['url']}{tls}  (updated {endpoint['updated_at']})", file=out)
    return 0


def remove_endpoint(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout  # resolved per call: tests capture stdout
    status, answer = _call(args, "DELETE", f"/tkw/endpoints/{args.service_id}")
    if status != 204:
        return _problem(status, answer)
    print(f"{args.service_id}: removed", file=out)
    return 0


def add_commands(commands: Any) -> None:
    """``tkw endpoints ...`` on the main parser's subcommands."""
    endpoints = commands.add_parser("endpoints", help="set | list | remove where the emulator sends your responses")
    endpoints.add_argument(
        "--emulator",
        default=os.environ.get("TKW_URL", "http://127.0.0.1:3000"),
        help="the emulator's root URL (TKW_URL; default http://127.0.0.1:3000)",
    )
    endpoints.add_argument(
        "--ods",
        default=os.environ.get("TKW_ODS"),
        required=not os.environ.get("TKW_ODS"),
        help="your organisation's ODS code, as in NHSD-End-User-Organisation (TKW_ODS)",
    )
    endpoints.add_argument("--token", default=os.environ.get("TKW_TOKEN"), help="bearer token in int mode (TKW_TOKEN)")
    actions = endpoints.add_subparsers(dest="action", required=True, metavar="ACTION")
    put = actions.add_parser("set", help="register (or replace) an endpoint")
    put.add_argument("service_id", help="the DoS service id of your MessageHeader.source.endpoint, or 'default'")
    put.add_argument("url", help="the base URL of your BaRS API (the emulator POSTs to <url>/$process-message)")
    put.add_argument("--client-cert", metavar="PEM_FILE", help="client certificate the emulator presents (TLS-MA)")
    put.add_argument("--client-key", metavar="PEM_FILE", help="its private key")
    put.add_argument("--ca-bundle", metavar="PEM_FILE", help="CA certificates your server's certificate chains to")
    put.set_defaults(run=set_endpoint)
    listing = actions.add_parser("list", help="your organisation's endpoints")
    listing.add_argument("--json", dest="json_output", action="store_true", help="as JSON")
    listing.set_defaults(run=list_endpoints)
    remove = actions.add_parser("remove", help="remove an endpoint")
    remove.add_argument("service_id")
    remove.set_defaults(run=remove_endpoint)


def listen(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """A stand-in for your BaRS API: prints each message that arrives and accepts it (200, the Bundle)."""
    out = out if out is not None else sys.stdout  # resolved per call: tests capture stdout
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                bundle = json.loads(raw)
                header = bundle["entry"][0]["resource"]
                what = (
                    f"{header['eventCoding']['code']} ({header.get('reason', {}).get('coding', [{}])[0].get('code')})"
                )
                answered = (header.get("response") or {}).get("identifier")
            except (ValueError, KeyError, IndexError, TypeError):
                bundle, what, answered = None, "not a BaRS message", None
            print(
                f"{self.command} {self.path}: {what}, responds to Bundle {answered}, "
                f"X-Request-Id {self.headers.get('X-Request-Id')}, "
                f"X-Correlation-Id {self.headers.get('X-Correlation-Id')}",
                file=out,
                flush=True,
            )
            if args.verbose and bundle is not None:
                print(json.dumps(bundle, indent=2), file=out, flush=True)
            body = raw if bundle is not None else b""
            self.send_response(200 if bundle is not None else 400)
            self.send_header("Content-Type", "application/fhir+json")
            for name in ("X-Request-Id", "X-Correlation-Id"):
                if self.headers.get(name):
                    self.send_header(name, self.headers[name])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            body = json.dumps({"resourceType": "CapabilityStatement", "status": "active", "kind": "instance"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"Listening on http://{args.host}:{server.server_address[1]}/ (Ctrl-C to stop)", file=out, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def add_listen_command(commands: Any) -> None:
    stub = commands.add_parser("listen", help="a local stand-in for your BaRS API that prints the responses it gets")
    stub.add_argument("--host", default="127.0.0.1")
    stub.add_argument("--port", type=int, default=8080)
    stub.add_argument("--verbose", action="store_true", help="print each Bundle too")
    stub.set_defaults(run=listen)
