"""The local runner's request path in process: CPU ms per request of one bench route (information).

With reports on, every request the emulator answers costs its HTTP server process the request path
(HTTP parsing, the proxy event, the handler, the answer, the hand-off of the report job) and the
report worker process the report. This measures the first, the way ``make run`` serves it: one of
the routes as ``make bench`` sends them (a fresh ``X-Request-Id`` each, keep-alive)
are sent as raw HTTP by a client process over one loopback TCP connection and served by the local
runner's own HTTP handler (:mod:`tkw_local.server`) on one thread, AWS on in-process moto, the report jobs
handed off as the local runner hands them (``ReportJob.to_message``) but not produced.

``python bench/request_path.py [N] [--route slot|metadata|booking] [--profile] [--reports-off]
[--strict]``: N requests (default 3,000) of the route (default booking) after a warm-up;
``--profile`` prints where the time goes (cProfile). Compare CPU ms a request on a shared machine.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import sys
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "tkw"), str(ROOT / "tests"), str(ROOT / "bench")]

from run import LAMBDA_ENV, ROUTES, Route, profiled, sender_headers  # noqa: E402 - bench/run.py: how make bench sends it

WARMUP = 200


class MessageHandoff:
    """The local runner's hand-off on the request path (the job as its message, kept until stored),
    without a worker: the report is not this measurement's."""

    def __init__(self) -> None:
        self.handed_over = 0

    def submit(self, job: Any) -> None:
        job.to_message()
        self.handed_over += 1

    def wait_for(self, report_id: str, timeout: float) -> bool:
        return True

    def settle(self, timeout: float) -> None:
        return None


def raw_requests(route: Route, count: int) -> bytes:
    fixed = "".join(f"{k}: {v}\r\n" for k, v in sender_headers(route).items())
    head = f"{route.method} {route.path} HTTP/1.1\r\nHost: 127.0.0.1:3000\r\n{fixed}"
    body = route.body or b""
    length = f"Content-Length: {len(body)}\r\n\r\n".encode() if route.body is not None else b"\r\n"
    return b"".join((head + f"X-Request-Id: {uuid.uuid4()}\r\n").encode() + length + body for _ in range(count))


_CLIENT = """
import socket, sys, threading
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
raw = open(sys.argv[2], "rb").read()
threading.Thread(target=sock.sendall, args=(raw,), daemon=True).start()
with open(sys.argv[3], "wb") as out:
    while chunk := sock.recv(1 << 20):
        out.write(chunk)
"""


def serve(api: Any, raw: bytes, count: int, expected: int = 200) -> None:
    """Serve ``count`` requests from ``raw`` on this thread (one keep-alive connection from a client
    process, so that nothing else in this process competes for the interpreter); each must answer
    ``expected``."""
    import subprocess
    import tempfile

    from tkw_local.server import _Handler

    class Server:
        pass

    server = Server()
    server.api = api  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as tmp, socket.create_server(("127.0.0.1", 0)) as listener:
        requests, answers = Path(tmp) / "requests", Path(tmp) / "answers"
        requests.write_bytes(raw)
        port = str(listener.getsockname()[1])
        client = subprocess.Popen([sys.executable, "-c", _CLIENT, port, str(requests), str(answers)])
        connection, _ = listener.accept()
        handler = _Handler.__new__(_Handler)
        handler.request, handler.client_address = connection, ("127.0.0.1", 40000)
        handler.server = server  # type: ignore[assignment]  # what _Handler reads of it: .api
        handler.setup()
        try:
            for _ in range(count):
                handler.handle_one_request()
        finally:
            handler.finish()
            connection.close()
        client.wait(60)
        statuses = _statuses(answers.read_bytes())
    bad = [s for s in statuses if s != expected]
    if len(statuses) != count or bad:
        raise RuntimeError(f"{len(statuses)} answers of {count}, not {expected}: {bad[:5]}")


def _statuses(answers: bytes) -> list[int]:
    statuses: list[int] = []
    at = 0
    while at < len(answers):
        end = answers.index(b"\r\n\r\n", at)
        lines = answers[at:end].split(b"\r\n")
        length = next(int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length"))
        statuses.append(int(lines[0].split()[1]))
        at = end + 4 + length
    return statuses


def measure(route: Route, count: int, profile: bool, reports: bool, strict: bool) -> dict[str, Any]:
    os.environ.update(LAMBDA_ENV)
    with contextlib.redirect_stdout(io.StringIO()) as out, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = _measure(route, count, profile, reports, strict)
    if profile:
        print(out.getvalue().split("\n{", 1)[0][-30000:])
    return result


def _measure(route: Route, count: int, profile: bool, reports: bool, strict: bool) -> dict[str, Any]:
    from moto import mock_aws

    from tkw.reports.handoff import use_host_handoff
    from tkw_local.backend import Resolver, create_resources, parameters_from_env, serialise_dynamodb
    from tkw_local.functions import load_function
    from tkw_local.server import LocalApi
    from tkw_local.template import Template

    template = Template.read(ROOT / "template.yaml")
    last_segment = "/" + route.path.split("?")[0].rsplit("/", 1)[1]
    spec = next(f for f in template.functions() if any(r.path.endswith(last_segment) for r in f.routes))
    with mock_aws():
        serialise_dynamodb()
        resolver = create_resources(template, Resolver(parameters=parameters_from_env(template, {})))
        for name, value in spec.environment.items():
            os.environ[name] = str(resolver.resolve(value))
        os.environ.update(LAMBDA_ENV)
        os.environ["REPORTS_ENABLED"] = "true" if reports else "false"
        os.environ["STRICT_MODE"] = "true" if strict else "false"
        handoff = MessageHandoff()
        use_host_handoff(handoff)
        api = LocalApi(template_path=ROOT / "template.yaml", env=dict(os.environ), stage="local")
        api.functions[spec.logical_id] = load_function(template.root, spec)
        api.routes.extend(spec.routes)
        # Strict mode refuses the booking fixture (its findings are errors there): that answer is timed.
        expected = 400 if strict and route.body is not None else 200
        serve(api, raw_requests(route, WARMUP), WARMUP, expected)
        raw = raw_requests(route, count)
        with profiled(profile, (70, 45)):
            started, cpu_started = time.perf_counter(), time.thread_time()
            serve(api, raw, count, expected)
            elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
        use_host_handoff(None)
        if reports and handoff.handed_over != WARMUP + count:
            raise RuntimeError(f"{handoff.handed_over} report jobs handed over, not {WARMUP + count}")
    return {
        "route": route.label,
        "requests": count,
        "reports": reports,
        "strict": strict,
        "ms_per_request": round(elapsed * 1000 / count, 3),
        # The serving thread's CPU time: the figure to compare on a shared machine.
        "cpu_ms_per_request": round(cpu * 1000 / count, 3),
    }


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("count", nargs="?", type=int, default=3000)
    parser.add_argument("--route", choices=("metadata", "slot", "booking"), default="booking")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--reports-off", action="store_true")
    parser.add_argument("--strict", action="store_true")
    options = parser.parse_args()
    chosen = next(r for r in ROUTES if options.route in r.label.lower())
    figures = measure(
        chosen,
        options.count,
        profile=options.profile,
        reports=not options.reports_off,
        strict=options.strict,
    )
    print(
        f"request path, {figures['route']} (reports {'on' if figures['reports'] else 'off'}"
        f"{', strict' if figures['strict'] else ''}): {figures['cpu_ms_per_request']:.3f} ms CPU a request "
        f"({figures['ms_per_request']:.3f} ms wall; {figures['requests']:,} requests)"
    )
