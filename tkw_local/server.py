"""The local API: template routes served over real HTTP by invoking the handlers in-process."""

from __future__ import annotations

import base64
import gc
import json
import logging
import os
import re
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from tkw_local.backend import EmbeddedAws, Resolver, create_resources, parameters_from_env, use_endpoint
from tkw_local.functions import LoadedFunction, load_function, rest_proxy_event, sqs_event
from tkw_local.report_worker import WorkerProcessHandoff
from tkw_local.template import ApiRoute, Template

log = logging.getLogger("tkw.local")

# Masked in logged paths (as tkw.http.loggable_path does for the functions' logs).
_NHS_NUMBER_LIKE = re.compile(
    r"(?<![0-9A-Fa-f])(?:[0-9]{10}|[0-9]{3} [0-9]{3} [0-9]{4}|[0-9]{3}-[0-9]{3}-[0-9]{4})(?![0-9A-Fa-f])"
)
# A share link's token is the credential to a report.
_SHARE_TOKEN = re.compile(r"(/tkw/share[sd]/)[^/?]+")
# The request's headers as received, repeated ones included (the environ key the handler sets).
RAW_HEADERS = "tkw.raw_headers"
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
    _aws: EmbeddedAws | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    # One API invocation at a time: Powertools' resolver keeps the current event on its class, as
    # Lambda runs one invocation per environment. The request path makes no network call (reports
    # are produced off it), so requests queue for CPU they would share under the GIL anyway. Queue
    # consumers (the report and receiver workers) use no resolver and run beside it.
    _api_lock: threading.Lock = field(default_factory=threading.Lock)
    _pollers: list[threading.Thread] = field(default_factory=list)
    _report_worker: WorkerProcessHandoff | None = None

    def start(self, aws_endpoint: str | None = None) -> None:
        """Start (or reuse) the AWS backend, create the template's resources, load the handlers,
        and start the report worker process."""
        template = Template.read(self.template_path)
        if aws_endpoint is None:
            self._aws = EmbeddedAws()
            self._aws.start()
        else:
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

    def _start_report_worker(self) -> None:
        """Reports are produced by the report worker function in a process of its own (see
        tkw_local.report_worker), unless TKW_REPORT_HANDOFF asks for a thread ("in-process") or the
        queue ("queue", as deployed)."""
        from tkw.settings import get_settings

        if self.env.get("TKW_REPORT_HANDOFF"):
            os.environ["TKW_REPORT_HANDOFF"] = self.env["TKW_REPORT_HANDOFF"]
            return
        if not get_settings().reports_enabled:
            return
        from tkw.reports.handoff import use_host_handoff
        from tkw_local.report_worker import DEFAULT_BACKLOG

        env = self._aws.client_env() if self._aws is not None else dict(os.environ)
        backlog = int(self.env.get("REPORT_BACKLOG") or DEFAULT_BACKLOG)
        self._report_worker = WorkerProcessHandoff(self.template_path, env, backlog=backlog)
        use_host_handoff(self._report_worker)

    def stop(self) -> None:
        self._stop.set()
        if self._report_worker is not None:
            # Reports already answered for are stored before the embedded AWS goes away.
            self._report_worker.settle(10)
            self._report_worker.close()
        for thread in self._pollers:
            thread.join(timeout=5)
        if self._aws is not None:
            self._aws.stop()

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

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        started = time.perf_counter()
        response = self._dispatch(request)
        # The path only: query strings carry patient identifiers (patient:identifier=...|<NHS number>);
        # and in the path, what looks like an NHS number (a sender's NHS number in place of an id)
        # and share-link tokens.
        log.info(
            "%s %s -> %s (%.1f ms)",
            request.method,
            _NHS_NUMBER_LIKE.sub("[nhs-number?]", _SHARE_TOKEN.sub(r"\1[token]", request.path)[:200]),
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        length = request.content_length or 0
        if length > MAX_BODY_BYTES:
            return _gateway_error(413, "Request Too Long")
        matched = self.match(request.method, request.path)
        if matched is None:
            # What API Gateway answers for a path/method no resource serves.
            return _gateway_error(403, "Missing Authentication Token")
        route, params = matched
        # As sent: the WSGI environ joins a repeated header's values with commas, API Gateway
        # keeps each of them (multiValueHeaders).
        headers = list(request.environ.get(RAW_HEADERS) or request.headers.items())
        headers += [
            ("X-Forwarded-Proto", request.scheme),
            ("X-Forwarded-For", request.remote_addr or "127.0.0.1"),
        ]
        event = rest_proxy_event(
            method=request.method,
            path=request.path,
            resource=route.path,
            path_parameters=params,
            headers=headers,
            query=parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True),
            body=request.get_data(cache=False),
            stage=self.stage,
            source_ip=request.remote_addr or "127.0.0.1",
        )
        try:
            with self._api_lock:
                result = self.functions[route.function].invoke(event)
        except Exception:
            log.exception("function %s raised", route.function)
            # A Lambda that raises surfaces as API Gateway's own 502.
            return _gateway_error(502, "Internal server error")
        return _to_response(result)

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


def _gateway_error(status: int, message: str) -> Response:
    return Response(json.dumps({"message": message}), status=status, content_type="application/json")


def _to_response(result: Any) -> Response:
    if not isinstance(result, dict) or "statusCode" not in result:
        return _gateway_error(502, "Internal server error")
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    response = Response(data, status=int(result["statusCode"]))
    response.headers.clear()
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        response.headers.remove(name)
        for value in values:
            response.headers.add(name, str(value))
    return response


class _KeepAliveHandler(WSGIRequestHandler):
    """HTTP/1.1 with keep-alive: load generators and SDKs reuse connections, as with API Gateway."""

    protocol_version = "HTTP/1.1"

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ[RAW_HEADERS] = list(self.headers.items())
        return environ

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # LocalApi logs one line per request itself


def serve(api: LocalApi, host: str, port: int) -> BaseWSGIServer:
    """A threaded HTTP server for ``api`` (the caller runs ``serve_forever``)."""
    return make_server(host, port, api.wsgi, threaded=True, request_handler=_KeepAliveHandler)
