"""The local API: template routes served over real HTTP by invoking the handlers in-process."""

from __future__ import annotations

import base64
import contextlib
import gc
import json
import logging
import os
import re
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from tkw_local.backend import Resolver, create_resources, parameters_from_env, use_endpoint
from tkw_local.functions import LoadedFunction, add_layers, load_function, rest_proxy_event, sqs_event
from tkw_local.report_worker import WorkerProcessHandoff
from tkw_local.template import ApiRoute, Template

log = logging.getLogger("tkw.local")

# Masked in logged paths (as tkw.http.loggable_path does for the functions' logs).
_NHS_NUMBER_LIKE = re.compile(
    r"(?<![0-9A-Fa-f])(?:[0-9]{10}|[0-9]{3} [0-9]{3} [0-9]{4}|[0-9]{3}-[0-9]{3}-[0-9]{4})(?![0-9A-Fa-f])"
)
# A share link's token is the credential to a report.
_SHARE_TOKEN = re.compile(r"(/tkw/share[sd]/)[^/?]+")
# API Gateway's own payload limit; bodies above it never reach a function.
MAX_BODY_BYTES = 10 * 1024 * 1024


@dataclass
class LocalApi:
    """Everything ``make run`` serves: the template's API, its functions and an embedded AWS."""

    template_path: Path
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    functions: dict[str, LoadedFunction] = field(default_factory=dict)
    routes: list[ApiRoute] = field(default_factory=list)
    resolver: Resolver | None = None
    stage: str = "v1"
    _stop: threading.Event = field(default_factory=threading.Event)
    # One API invocation at a time: Powertools' resolver keeps the current event on its class, as
    # Lambda runs one invocation per environment. The request path makes no network call (reports
    # are produced off it), so requests queue for CPU they would share under the GIL anyway. Queue
    # consumers (the report and receiver workers) use no resolver and run beside it.
    _api_lock: threading.Lock = field(default_factory=threading.Lock)
    _pollers: list[threading.Thread] = field(default_factory=list)
    _report_worker: WorkerProcessHandoff | None = None

    def start(self, aws_endpoint: str | None = None) -> None:
        """Start the second process (the embedded AWS, unless ``aws_endpoint`` names one, and the
        report worker), create the template's resources, load the handlers."""
        template = Template.read(self.template_path)
        for spec in template.functions():
            add_layers(template.root, spec)  # the runner itself uses the layer too (report handoff)
        if aws_endpoint is None:
            self._report_worker = WorkerProcessHandoff(self.template_path, host_aws=True, backlog=self._backlog())
            aws_endpoint = self._report_worker.aws_endpoint
        use_endpoint(aws_endpoint)
        parameters = parameters_from_env(template, self.env)
        self.stage = parameters.get("Stage", "v1")
        self.resolver = create_resources(template, Resolver(parameters=parameters))
        specs = template.functions()
        # One process hosts every function, so their environments merge (they share Globals).
        for spec in specs:
            for name, value in spec.environment.items():
                os.environ[name] = str(self.env.get(name) or self.resolver.resolve(value))
        # Local defaults: no X-Ray daemon, no CloudWatch metrics, the runner logs each request.
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        os.environ["POWERTOOLS_LOG_LEVEL"] = self.env.get("POWERTOOLS_LOG_LEVEL", "WARNING")
        # With metrics off, Powertools still warns on every invocation that there are none.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        for spec in specs:
            self.functions[spec.logical_id] = load_function(template.root, spec)
            self.routes.extend(spec.routes)
        self._start_report_worker()
        for spec in specs:
            for queue in spec.sqs_queues:
                thread = threading.Thread(
                    target=self._poll_queue, args=(spec.logical_id, queue), daemon=True, name=f"sqs-{queue}"
                )
                thread.start()
                self._pollers.append(thread)
        # What is loaded now lives as long as the server: keep the garbage collector off it.
        gc.freeze()
        # A sender's request waits at most this long for the interpreter lock while another thread
        # holds it; Python's default is 5 ms.
        sys.setswitchinterval(0.0005)

    def answering(self) -> contextlib.AbstractContextManager[None]:
        """Around handling a request and writing its answer: its report jobs go to the report worker
        after the answer is written (the sender does not wait for the hand-off)."""
        if self._report_worker is None:
            return contextlib.nullcontext()
        return self._report_worker.after_answer()

    def _backlog(self) -> int:
        from tkw_local.report_worker import DEFAULT_BACKLOG

        return int(self.env.get("REPORT_BACKLOG") or DEFAULT_BACKLOG)

    def _start_report_worker(self) -> None:
        """Reports are produced by the report worker function in the second process (see
        tkw_local.report_worker), unless TKW_REPORT_HANDOFF asks for a thread ("in-process") or the
        queue ("queue", as deployed)."""
        from tkw.reports.handoff import use_host_handoff
        from tkw.settings import get_settings

        produce_here = not self.env.get("TKW_REPORT_HANDOFF") and get_settings().reports_enabled
        if self.env.get("TKW_REPORT_HANDOFF"):
            os.environ["TKW_REPORT_HANDOFF"] = self.env["TKW_REPORT_HANDOFF"]
        if self._report_worker is None and produce_here:
            self._report_worker = WorkerProcessHandoff(self.template_path, host_aws=False, backlog=self._backlog())
        if self._report_worker is not None:
            self._report_worker.configure(dict(os.environ))
        if produce_here:
            use_host_handoff(self._report_worker)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._pollers:
            thread.join(timeout=5)
        if self._report_worker is not None:
            # Reports already answered for are stored before the embedded AWS goes away with it.
            self._report_worker.settle(10)
            self._report_worker.close()

    # -- routing ------------------------------------------------------------------------------

    def match(self, method: str, path: str) -> tuple[ApiRoute, dict[str, str]] | None:
        """API Gateway's choice: the most specific resource, then its method, then its ANY."""
        candidates = [(r, p) for r in self.routes if (p := r.match(path)) is not None]
        if not candidates:
            return None
        best = max(r.specificity for r, _ in candidates)
        on_resource = [(r, p) for r, p in candidates if r.specificity == best]
        for wanted in (method, "ANY"):
            for route, params in on_resource:
                if route.method == wanted:
                    return route, params
        return None

    # -- HTTP ---------------------------------------------------------------------------------

    def log_exchange(self, exchange: HttpExchange, status: int | None, took_ms: float) -> None:
        """The one line logged per request (once its answer is written: formatting it and waking the
        log writer thread are no part of the sender's wait)."""
        if log.isEnabledFor(logging.INFO):
            # The path only: query strings carry patient identifiers (patient:identifier=...|<NHS
            # number>); and in the path, what looks like an NHS number (a sender's NHS number in place
            # of an id) and share-link tokens.
            log.info(
                "%s %s -> %s (%.1f ms)",
                exchange.method,
                _NHS_NUMBER_LIKE.sub("[nhs-number?]", _SHARE_TOKEN.sub(r"\1[token]", exchange.path)[:200]),
                "no answer" if status is None else status,
                took_ms,
            )

    def handle(self, exchange: HttpExchange) -> HttpAnswer:
        """One HTTP exchange as API Gateway would serve it."""
        matched = self.match(exchange.method, exchange.path)
        if matched is None:
            # What API Gateway answers for a path/method no resource serves.
            return _gateway_error(403, "Missing Authentication Token")
        route, params = matched
        headers = [
            *exchange.headers,  # as sent, a repeated header's values each kept (multiValueHeaders)
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-For", exchange.client_ip),
        ]
        event = rest_proxy_event(
            method=exchange.method,
            path=exchange.path,
            resource=route.path,
            path_parameters=params,
            headers=headers,
            query=parse_qsl(exchange.query, keep_blank_values=True),
            body=exchange.body,
            stage=self.stage,
            source_ip=exchange.client_ip,
        )
        try:
            with self._api_lock:
                result = self.functions[route.function].invoke(event)
        except Exception:
            log.exception("function %s raised", route.function)
            # A Lambda that raises surfaces as API Gateway's own 502.
            return _gateway_error(502, "Internal server error")
        return _answer_of(result)

    def _poll_queue(self, function: str, queue_logical_id: str) -> None:
        import boto3

        assert self.resolver is not None
        url = self.resolver.physical[queue_logical_id]
        arn = self.resolver.arns[queue_logical_id]
        sqs = boto3.client("sqs")
        while not self._stop.is_set():
            try:
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            except Exception:  # the backend is stopping
                if self._stop.is_set():
                    return
                log.exception("receiving from %s failed", queue_logical_id)
                time.sleep(1)
                continue
            messages = got.get("Messages", [])
            if not messages:
                continue
            try:
                result = self.functions[function].invoke(sqs_event(list(map(dict, messages)), arn)) or {}
            except Exception:
                log.exception("function %s raised on an SQS batch", function)
                continue  # messages become visible again, as with Lambda's event source mapping
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            for m in messages:
                if m["MessageId"] not in failed:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


@dataclass(frozen=True, slots=True)
class HttpExchange:
    """What API Gateway takes from an HTTP request (the path percent-decoded, the query raw)."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    client_ip: str


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _gateway_error(status: int, message: str) -> HttpAnswer:
    return HttpAnswer(status, [("Content-Type", "application/json")], json.dumps({"message": message}).encode())


def _answer_of(result: Any) -> HttpAnswer:
    """A Lambda proxy result as API Gateway turns it into HTTP (multiValueHeaders win over headers)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return _gateway_error(502, "Internal server error")
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    multi = {name.lower(): values for name, values in (result.get("multiValueHeaders") or {}).items()}
    headers = [(n, str(v)) for n, v in (result.get("headers") or {}).items() if n.lower() not in multi]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers += [(name, str(value)) for value in values]
    return HttpAnswer(int(result["statusCode"]), headers, data)


class _BodyTooLarge(Exception):
    """A chunked body past API Gateway's payload limit."""


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive (load generators and SDKs reuse connections, as with API Gateway),
    straight onto the standard library's server: no WSGI layer in between."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave in one go, never behind a delayed ACK
    # Buffered: an answer's status line, headers and body leave in one write (one segment, one
    # system call) when handle_one_request flushes, rather than the headers and the body apart.
    wbufsize = 1 << 16
    server: LocalHttpServer

    def _serve(self) -> None:
        body = self._body()
        if body is None:
            return
        raw_path, _, query = self.path.partition("?")
        exchange = HttpExchange(
            method=self.command,
            path=unquote(raw_path, errors="replace"),
            query=query,
            headers=[(name, _unfolded(value)) for name, value in self.headers.items()],
            body=body,
            client_ip=self.client_address[0],
        )
        api, started, status = self.server.api, time.perf_counter(), None
        answered = started
        try:
            with api.answering():
                answer = api.handle(exchange)
                self._send(answer)
                self.wfile.flush()
                status, answered = answer.status, time.perf_counter()
        finally:
            api.log_exchange(exchange, status, (answered - started) * 1000)

    def handle_expect_100(self) -> bool:
        # The client waits for "100 Continue" before sending the body: it leaves now, not buffered.
        proceed = super().handle_expect_100()
        self.wfile.flush()
        return proceed

    def __getattr__(self, name: str) -> Any:
        # Every method reaches API Gateway (TRACE, made-up ones): the API decides how to answer.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _body(self) -> bytes | None:
        """The request body (Content-Length or chunked); None when refused (already answered)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            try:
                return self._chunked_body()
            except ValueError:  # a chunk size that is not hexadecimal
                self._refuse(400, "Bad Request")
            except _BodyTooLarge:
                self._refuse(413, "Request Too Long")
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self._refuse(400 if length < 0 else 413, "Bad Request" if length < 0 else "Request Too Long")
            return None
        return self.rfile.read(length) if length else b""

    def _chunked_body(self) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while (length := int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)) > 0:
            size += length
            if size > MAX_BODY_BYTES:
                raise _BodyTooLarge
            chunks.append(self.rfile.read(length))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(chunks)

    def _refuse(self, status: int, message: str) -> None:
        self.close_connection = True  # the unread body would be taken for the next request
        self._send(_gateway_error(status, message))

    def _send(self, answer: HttpAnswer) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # LocalApi logs one line per request itself


_OBS_FOLD = re.compile(r"\r?\n[ \t]+")


def _unfolded(value: str) -> str:
    """A header value with each obsolete line fold replaced by one space (RFC 9112 §5.2), as a proxy
    does before passing it on: echoed as it came, a fold would break the answer's header section."""
    return _OBS_FOLD.sub(" ", value) if "\n" in value else value


class LocalHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: LocalApi) -> None:
        self.api = api
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that hung up: nothing to report
        log.exception("HTTP connection from %s failed", client_address[0])


def serve(api: LocalApi, host: str, port: int) -> LocalHttpServer:
    """A threaded HTTP server for ``api`` (the caller runs ``serve_forever``)."""
    return LocalHttpServer((host, port), api)
