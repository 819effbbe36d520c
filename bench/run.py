"""``make bench``: issue 13's figures side by side with their targets, plus cold import, layer and profiles.

One run, on this machine:

- throughput of GET /metadata, GET /Slot and a booking ``$process-message`` under ``wrk -t1 -c2`` (a
  fresh ``X-Request-Id`` per request) against a minimal fixed-JSON reference server
  (``bench/reference_server.py``), the emulator with reports on (the default) and with reports off;
  each server and its whole process tree on CPU 0, wrk on CPU 1; the emulator's figure as a ratio
  to the reference's;
- one client, sequential, keep-alive: p50/p90 per route;
- a burst of mixed requests as fast as they come, then every ``TKW-Report-Id`` it returned read back
  through ``GET /tkw/reports/{id}``: how many never became readable, and how long after the burst the
  last one was;
- cold import of every handler, the layer's size, profile validation; in-process warm latency and the
  receiver suites as information.

Writes bench/results.json and prints each figure next to its target. Timings live here, never in
tests: missing a target does not fail the run, but a measurement that cannot be trusted does. An
answer other than 200 before timing (or from the one client) stops the bench (exit 1); non-2xx answers
or socket errors while timing are printed and the run exits 2.
``BENCH_QUICK=1``: short runs (2 s of wrk per route, a 1,000-request burst).
``python bench/run.py --throughput booking``: only the throughput of the routes whose label says
``booking`` (reference, reports on, reports off), printed; no results.json.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import functools
import http.client
import io
import itertools
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "tkw"), str(ROOT / "tests")]
RESULTS = ROOT / "bench" / "results.json"
BASE = "/booking-and-referral/FHIR/R4"
QUICK = os.environ.get("BENCH_QUICK") == "1"

# Issue 13 "Targets" (local runner on a 2-vCPU machine, reports on), plus the layer (issue 8) and
# profile validation (issue 16).
TARGETS: dict[str, float] = {
    "cold_import_ms": 250.0,  # each BaRS handler
    "throughput_ratio": 0.06,  # ≥ the BaRS sandbox, which answers at about 0.06 times the reference
    "throughput_ratio_aim": 0.12,  # twice the sandbox
    "one_client_p50_get_ms": 3.0,  # GET /metadata, GET /Slot
    "one_client_p50_booking_ms": 8.0,
    "reports_lost": 0,
    "reports_readable_s": 5.0,
    "layer_mb": 60.0,
    "profiles_load_ms": 2000.0,
    "profiles_warm_ms": 30.0,
}

WRK_SECONDS = 2 if QUICK else 10
WRK_WARMUP_SECONDS = 1
WRK_CONNECTIONS = 2
ONE_CLIENT_WARMUP = 30
ONE_CLIENT_REQUESTS = 100 if QUICK else 300
BURST_REQUESTS = 1_000 if QUICK else 10_000
BURST_CLIENTS = 4
READERS = 8
READABLE_LIMIT_S = 60.0
SERVER_CPU, LOAD_CPU = 0, 1

LAMBDA_ENV = {
    "POWERTOOLS_SERVICE_NAME": "tkw-emulator",
    "POWERTOOLS_METRICS_NAMESPACE": "TkwEmulator",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "AWS_DEFAULT_REGION": "eu-west-2",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


class BenchError(RuntimeError):
    """A measurement that cannot be trusted (e.g. a 4xx from a wrong header): the bench stops."""


@contextlib.contextmanager
def profiled(enabled: bool, lines: tuple[int, int] = (60, 40)) -> Iterator[None]:
    """With ``enabled``, cProfile the block and print where its time went (cumulative, then own
    time: ``lines`` rows each); else run it as it is (the helpers' ``--profile``)."""
    if not enabled:
        yield
        return
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.sort_stats("cumulative").print_stats(lines[0])
        stats.sort_stats("tottime").print_stats(lines[1])


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# -- the three routes, as a conforming sender calls them -----------------------------------------------


@dataclass(frozen=True)
class Route:
    label: str
    method: str
    path: str
    body: bytes | None = None


ROUTES = (
    Route("GET /metadata", "GET", BASE + "/metadata"),
    Route(
        "GET /Slot",
        "GET",
        BASE + "/Slot?status=free&Schedule.actor%3AHealthcareService=2000072489"
        "&start=ge2026-11-01T09:00:00%2B00:00&start=le2026-11-30T17:00:00%2B00:00"
        "&_include=Slot%3Aschedule&_include=Schedule%3Aactor%3AHealthcareService",
    ),
    Route(
        "POST booking $process-message",
        "POST",
        BASE + "/$process-message",
        (ROOT / "tests" / "fixtures" / "booking-request.json").read_bytes(),
    ),
)


def sender_headers(route: Route) -> dict[str, str]:
    """The BaRS headers of a conforming sender, without X-Request-Id (each request sets a fresh one)."""
    from bars_support import bars_headers

    headers = {k: v for k, v in bars_headers().items() if k != "X-Request-Id"}
    if route.body is not None:
        headers["Content-Type"] = "application/fhir+json"
    return headers


def organisation_header() -> dict[str, str]:
    """The caller's organisation, as the BaRS requests carried it: reports are read under it."""
    from bars_support import bars_headers

    return {"NHSD-End-User-Organisation": bars_headers()["NHSD-End-User-Organisation"]}


# -- servers, each with its whole process tree on one CPU ---------------------------------------------

PIN_AVAILABLE = shutil.which("taskset") is not None and hasattr(os, "sched_setaffinity")


def _pin(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if PIN_AVAILABLE else []


@contextlib.contextmanager
def on_cpu(cpu: int) -> Iterator[None]:
    """This thread (and the threads it starts) on ``cpu``: the Python clients stay off the server's CPU."""
    if not PIN_AVAILABLE:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (all their threads)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    name: str
    root: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    pinning: dict[str, Any] = field(default_factory=dict)

    def tree(self) -> list[int]:
        return _process_tree(self.process.pid) if Path("/proc").exists() else [self.process.pid]

    def pin(self) -> None:
        """The server's own process on SERVER_CPU, like the reference; the processes it started (the
        emulator's report worker) on LOAD_CPU, beside the load generator: the emulator is two
        processes on this 2-vCPU machine, as `make run` runs it. Every thread is re-pinned (a worker
        started later included); records what was found, so the results say the pinning held."""
        if not PIN_AVAILABLE:
            self.pinning = {"pinned": False, "why": "taskset not available"}
            return
        pids = self.tree()
        repinned = 0
        for pid in pids:
            cpu = SERVER_CPU if pid == self.api_pid() else LOAD_CPU
            for task in Path(f"/proc/{pid}/task").glob("*"):
                with contextlib.suppress(OSError):
                    if os.sched_getaffinity(int(task.name)) != {cpu}:
                        os.sched_setaffinity(int(task.name), {cpu})
                        repinned += 1
        self.pinning = {
            "pinned": True,
            "cpu": SERVER_CPU,
            "worker_cpu": LOAD_CPU,
            "processes": len(pids),
            "threads_repinned": repinned,
        }

    def api_pid(self) -> int:
        """The process that answers HTTP (taskset execs the command in place: the same pid)."""
        return self.process.pid

    def settle(self, limit_s: float = 30.0) -> float:
        """Wait until the server's process tree is idle (a report backlog drained), at most ``limit_s``;
        seconds waited (in results.json, so a server that never idles shows)."""
        started = time.monotonic()
        previous = _cpu_seconds(self.tree())
        while time.monotonic() - started < limit_s:
            time.sleep(0.5)
            now = _cpu_seconds(self.tree())
            if now - previous < 0.05:  # under 10% of a CPU over half a second
                break
            previous = now
        return round(time.monotonic() - started, 1)

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-4000:]


@contextlib.contextmanager
def serving(name: str, command: list[str], ready_path: str, env: dict[str, str] | None = None) -> Iterator[Server]:
    """Start ``command`` with PORT set (its whole process tree on SERVER_CPU); stop it after."""
    from emulator_support import free_port

    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed when the server stops, below)
    environment = {**os.environ, **(env or {}), "PORT": str(port)}
    # The embedded AWS, as `make run` uses it: never an endpoint inherited from the shell.
    for unset in ("AWS_ENDPOINT_URL", "TKW_AWS_ENDPOINT_URL", "TKW_AWS_ENDPOINT"):
        environment.pop(unset, None)
    process = subprocess.Popen(
        [*_pin(SERVER_CPU), *command],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(name, f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_for(server, ready_path)
        yield server
    finally:
        children = [(pid, _started_at(pid)) for pid in server.tree()[1:]]
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        _stop_left_over(children)
        log.close()


def _started_at(pid: int) -> str | None:
    """The process's start time (clock ticks since boot): with the pid, it names one process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _stop_left_over(processes: list[tuple[int, str | None]]) -> None:
    """Processes the server started that outlived it (a report worker, say): stopped by their ids,
    only while the id still names the same process."""
    deadline = time.monotonic() + 10
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid, started_at in processes:
            while sig == signal.SIGKILL and _started_at(pid) == started_at and time.monotonic() < deadline:
                time.sleep(0.1)
            if started_at is not None and _started_at(pid) == started_at:
                with contextlib.suppress(OSError):
                    os.kill(pid, sig)


def _wait_for(server: Server, path: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(f"{server.name} exited while starting:\n{server.output()}")
        conn = http.client.HTTPConnection("127.0.0.1", int(server.root.rsplit(":", 1)[1]), timeout=5)
        try:
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.2)
    raise BenchError(f"{server.name} did not answer {path} within 90 s:\n{server.output()}")


def reference_server() -> contextlib.AbstractContextManager[Server]:
    return serving("reference", [sys.executable, str(ROOT / "bench" / "reference_server.py")], "/")


def emulator(reports: bool) -> contextlib.AbstractContextManager[Server]:
    """The local runner as ``make run`` starts it, with its embedded AWS."""
    env = {"REPORTS_ENABLED": "true" if reports else "false"}
    name = "emulator, reports " + ("on" if reports else "off")
    return serving(name, [sys.executable, "-m", "tkw_local"], BASE + "/_ping", env)


# The servers compared, in the order they run: the yardstick, then the emulator with reports on and off.
SERVERS: tuple[tuple[str, Callable[[], contextlib.AbstractContextManager[Server]]], ...] = (
    ("reference", reference_server),
    ("reports_on", lambda: emulator(reports=True)),
    ("reports_off", lambda: emulator(reports=False)),
)


# -- one client over HTTP -----------------------------------------------------------------------------


class Client:
    """One keep-alive connection, a fresh X-Request-Id on every request."""

    def __init__(self, server: Server, timeout: float = 60) -> None:
        host, port = server.root.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)

    def send(self, route: Route, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        self.conn.request(
            route.method, route.path, body=route.body, headers={**headers, "X-Request-Id": str(uuid.uuid4())}
        )
        response = self.conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()

    def get(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        self.conn.request("GET", path, headers=headers)
        response = self.conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()

    def close(self) -> None:
        self.conn.close()


def check_answers(server: Server) -> dict[str, Any]:
    """One request per route, before timing: each must answer 200 (a 4xx from a wrong header would
    make every figure after it meaningless)."""
    client = Client(server)
    seen: dict[str, Any] = {}
    try:
        for route in ROUTES:
            status, headers, body = client.send(route, sender_headers(route))
            if status != 200:
                raise BenchError(
                    f"{server.name}: {route.label} answered {status}, not 200, before timing:\n{body[:600]!r}"
                )
            seen[route.label] = {"status": status, "report_id": "tkw-report-id" in headers}
    finally:
        client.close()
    return seen


def one_client(server: Server) -> dict[str, dict[str, float]]:
    """p50/p90 of each route, one client sending sequentially on one keep-alive connection."""
    out: dict[str, dict[str, float]] = {}
    for route in ROUTES:
        server.pin()
        settled = server.settle()  # the previous route's report backlog is not this route's cost
        headers = sender_headers(route)
        client = Client(server)
        samples: list[float] = []
        try:
            for i in range(ONE_CLIENT_WARMUP + ONE_CLIENT_REQUESTS):
                started = time.perf_counter()
                status, _, body = client.send(route, headers)
                elapsed = (time.perf_counter() - started) * 1000
                if status != 200:
                    raise BenchError(f"{server.name}: {route.label} answered {status} while timing:\n{body[:600]!r}")
                if i >= ONE_CLIENT_WARMUP:
                    samples.append(elapsed)
        finally:
            client.close()
        out[route.label] = {
            "requests": len(samples),
            "p50_ms": round(percentile(samples, 50), 2),
            "p90_ms": round(percentile(samples, 90), 2),
            "settled_before_s": settled,
        }
    return out


# -- throughput with wrk --------------------------------------------------------------------------------

# Each request gets a fresh, UUID-shaped X-Request-Id: a prefix unique to this wrk run (from Python)
# and a counter. A repeated id is a duplicate, a different code path (and in strict mode a 409).
_WRK_SCRIPT = """
local prefix = [==[%(prefix)s]==]
local n = 0
local headers = {%(headers)s}
wrk.method = "%(method)s"
%(body)s
request = function()
  n = n + 1
  headers["X-Request-Id"] = string.format("%%s%%012x", prefix, n)
  return wrk.format(nil, nil, headers, wrk.body)
end
"""


def _wrk_script(route: Route, directory: Path) -> Path:
    h = uuid.uuid4().hex
    prefix = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-"
    headers = ",".join(f"[ [==[{k}]==] ] = [==[{v}]==]" for k, v in sender_headers(route).items())
    body = ""
    if route.body is not None:
        body_file = directory / "body.json"
        body_file.write_bytes(route.body)  # read by Lua as bytes: no escaping of the JSON in Lua source
        body = f'local f = assert(io.open([==[{body_file}]==], "rb"))\nwrk.body = f:read("*a")\nf:close()'
    script = directory / "request.lua"
    script.write_text(_WRK_SCRIPT % {"prefix": prefix, "headers": headers, "method": route.method, "body": body})
    return script


def wrk(server: Server, route: Route, seconds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        script = _wrk_script(route, Path(tmp))
        command = [
            *_pin(LOAD_CPU),
            "wrk",
            "-t1",
            f"-c{WRK_CONNECTIONS}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "--latency",
            "-s",
            str(script),
            server.root + route.path,
        ]
        done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"wrk failed on {server.name} {route.label}:\n{done.stdout}\n{done.stderr}")
    return parse_wrk(done.stdout)


def parse_wrk(text: str) -> dict[str, float]:
    def ms(value: str) -> float:
        for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60_000.0)):
            if value.endswith(unit):
                return float(value[: -len(unit)]) * factor
        return float(value)

    out: dict[str, float] = {"non_2xx": 0, "socket_errors": 0}
    for line in text.splitlines():
        parts = line.split()
        stripped = line.strip()
        if stripped.startswith("50%"):
            out["p50_ms"] = round(ms(parts[1]), 3)
        elif stripped.startswith("99%"):
            out["p99_ms"] = round(ms(parts[1]), 3)
        elif " requests in " in line:
            out["requests"] = int(parts[0])
        elif line.startswith("Requests/sec:"):
            out["rps"] = round(float(parts[1]), 1)
        elif "Non-2xx or 3xx responses" in line:
            out["non_2xx"] = int(parts[-1])
        elif stripped.startswith("Socket errors:"):  # connect 0, read 0, write 0, timeout 0
            out["socket_errors"] = sum(int(p.strip(",")) for p in parts[3::2])
    if "rps" not in out:
        raise BenchError(f"could not read wrk's output:\n{text}")
    return out


def throughput(server: Server, routes: tuple[Route, ...] = ROUTES) -> dict[str, dict[str, float]]:
    """req/s of each route under wrk, after a short warm-up run whose answers must all be 2xx."""
    out: dict[str, dict[str, float]] = {}
    for route in routes:
        server.pin()
        warm = wrk(server, route, WRK_WARMUP_SECONDS)
        if warm["non_2xx"] or warm["socket_errors"]:
            raise BenchError(
                f"{server.name}: {route.label} under wrk's script: {warm['non_2xx']:.0f} non-2xx answers, "
                f"{warm['socket_errors']:.0f} socket errors in the warm-up (check the Lua script's headers)"
            )
        settled = server.settle()
        result = wrk(server, route, WRK_SECONDS)
        result["settled_before_s"] = settled
        out[route.label] = result
    server.pin()
    return out


# -- reports lost after a burst -------------------------------------------------------------------------

# How "lost" is decided: the worker gets READABLE_LIMIT_S after the burst's end; an id still not readable
# when read after that mark is lost. Reading 10,000 reports takes time of its own, so an id the readers
# only reach later is not lost for that; past READ_CAP_S, ids not read since the mark are "unconfirmed".
READ_CAP_S = 300.0
CONNECTION_ERRORS = (OSError, http.client.HTTPException)


def burst(server: Server) -> dict[str, Any]:
    """BURST_REQUESTS mixed requests (the three routes interleaved) from BURST_CLIENTS keep-alive clients
    as fast as they come; then every TKW-Report-Id returned read back (:func:`read_back`)."""
    server.pin()
    settled = server.settle()
    headers = {route.label: sender_headers(route) for route in ROUTES}
    numbers = itertools.count()  # next() on a count is atomic under the GIL
    lock = threading.Lock()
    statuses: Counter[str] = Counter()
    report_ids: list[tuple[int, str]] = []
    missing_id = 0
    last_answer = 0.0

    def send_some() -> None:
        nonlocal missing_id, last_answer
        client = Client(server)
        local: list[tuple[int, str]] = []
        local_status: Counter[str] = Counter()
        local_missing = 0
        try:
            while (n := next(numbers)) < BURST_REQUESTS:
                route = ROUTES[n % len(ROUTES)]
                try:
                    status, answer_headers, _ = client.send(route, headers[route.label])
                except CONNECTION_ERRORS as err:
                    local_status[type(err).__name__] += 1
                    client.close()
                    client = Client(server)
                    continue
                local_status[str(status)] += 1
                if rid := answer_headers.get("tkw-report-id"):
                    local.append((n, rid))
                else:
                    local_missing += 1
        finally:
            ended = time.monotonic()
            client.close()
            with lock:
                report_ids.extend(local)
                statuses.update(local_status)
                missing_id += local_missing
                last_answer = max(last_answer, ended)

    threads = [threading.Thread(target=send_some, name=f"burst-{i}") for i in range(BURST_CLIENTS)]
    wall_started = time.time()
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ended = last_answer
    _alive(server)
    ids = [rid for _, rid in sorted(report_ids)]  # in the order they were sent
    result: dict[str, Any] = {
        "requests": BURST_REQUESTS,
        "clients": BURST_CLIENTS,
        "seconds": round(ended - started, 2),
        "rps": round(BURST_REQUESTS / (ended - started), 1),
        "statuses": dict(sorted(statuses.items())),
        "report_ids": len(ids),
        "answers_without_report_id": missing_id,
        "distinct_report_ids": len(set(ids)),
        "settled_before_s": settled,
    }
    result |= read_back(server, list(dict.fromkeys(ids)), ended, wall_started)
    return result


def _alive(server: Server) -> None:
    if server.process.poll() is not None:
        raise BenchError(f"{server.name} exited (code {server.process.returncode}):\n{server.output()}")


@dataclass
class ReportReads:
    """What the readers saw: the first 200 of each id, the last time each id was asked, every answer."""

    first_ok: dict[str, float] = field(default_factory=dict)
    last_asked: dict[str, float] = field(default_factory=dict)
    answers: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def read_once(self, server: Server, ids: list[str], stop_at: float) -> list[str]:
        """Each id asked once (READERS clients in parallel, a keep-alive connection each); the ids not
        readable yet, and those not reached before ``stop_at``."""
        headers = {**organisation_header(), "Accept": "application/json"}
        queue = iter(ids)  # shared: each id goes to one reader
        still: list[str] = []

        def read_some() -> None:
            client = Client(server, timeout=READ_CAP_S)
            ok: dict[str, float] = {}
            asked: dict[str, float] = {}
            answers: Counter[str] = Counter()
            not_yet: list[str] = []
            try:
                for rid in queue:
                    if time.monotonic() >= stop_at:
                        not_yet.append(rid)
                        continue
                    try:
                        status, _, _ = client.get(f"/tkw/reports/{rid}", headers)
                    except CONNECTION_ERRORS as err:
                        answers[type(err).__name__] += 1
                        not_yet.append(rid)
                        client.close()
                        client = Client(server, timeout=READ_CAP_S)
                        continue
                    now = time.monotonic()
                    answers[str(status)] += 1
                    asked[rid] = now
                    if status == 200:
                        ok[rid] = now
                    else:  # 202: still being produced
                        not_yet.append(rid)
            finally:
                client.close()
                with self.lock:
                    self.first_ok.update(ok)
                    self.last_asked.update(asked)
                    self.answers.update(answers)
                    still.extend(not_yet)

        readers = [threading.Thread(target=read_some, name=f"reader-{i}") for i in range(READERS)]
        for t in readers:
            t.start()
        for t in readers:
            t.join()
        _alive(server)
        return still


def all_listed_after(server: Server, ids: list[str], since: float, burst_end: float) -> float | None:
    """Seconds from the burst's end until every id shows in the reports listing (pages of 100 since
    the burst began, swept again until none is missing; at most READABLE_LIMIT_S). The listing's
    items are written with the reports, so this says every report was stored, without reading
    10,000 reports one by one (the reading is timed apart, as "reports lost")."""
    wanted = set(ids)
    since_iso = datetime.fromtimestamp(since - 1, UTC).isoformat()
    client = Client(server, timeout=READ_CAP_S)
    try:
        while time.monotonic() < burst_end + READABLE_LIMIT_S:
            seen: set[str] = set()
            token: str | None = None
            while True:
                query = {"since": since_iso, "limit": "100", **({"page_token": token} if token else {})}
                status, _, body = client.get("/tkw/reports?" + urllib.parse.urlencode(query), organisation_header())
                if status != 200:
                    raise BenchError(f"listing reports answered {status}: {body[:300]!r}")
                page = json.loads(body)
                seen.update(r["id"] for r in page["reports"])
                token = page.get("next_page_token")
                if not token:
                    break
            if wanted <= seen:
                return round(time.monotonic() - burst_end, 2)
            time.sleep(0.2)
    finally:
        client.close()
    return None


def read_back(server: Server, ids: list[str], burst_end: float, since: float) -> dict[str, Any]:
    """Every report read through GET /tkw/reports/{id} until it answers 200 (202 means "pending").

    A report counts as readable when its first 200 arrived: an upper bound, the readers had to reach it.
    First the newest reports alone: the report worker takes jobs in the order they came and retries
    a failing one before it goes on, so when the newest are readable every earlier report is stored
    or given up on, and one given up on is never readable: reading all of them back, in rounds,
    counts it as lost. That time is "every report readable within", whatever the readers' own speed.
    """
    reads = ReportReads()
    mark = burst_end + READABLE_LIMIT_S
    cap = burst_end + READ_CAP_S
    newest = ids[-READERS:]
    pending = newest  # (were one of them lost, this takes the whole 60 s: the target is missed anyway)
    while pending and time.monotonic() < mark:
        started = time.monotonic()
        pending = reads.read_once(server, pending, mark)
        if pending and time.monotonic() - started < 0.2:
            time.sleep(0.2)
    caught_up = max(reads.first_ok[i] for i in newest) if all(i in reads.first_ok for i in newest) else None
    listed = all_listed_after(server, ids, since, burst_end)
    pending = [i for i in ids if i not in reads.first_ok]
    rounds = 0
    while pending and time.monotonic() < cap:
        rounds += 1
        started = time.monotonic()
        pending = reads.read_once(server, pending, cap)
        # Every id still pending has been asked after the mark: the worker had its 60 s.
        if started >= mark:
            break
        if pending and time.monotonic() - started < 0.2:
            time.sleep(0.2)
    lost = [i for i in pending if reads.last_asked.get(i, 0.0) >= mark]
    last = max(reads.first_ok.values(), default=burst_end)
    spent = time.monotonic() - burst_end
    gets = sum(reads.answers.values())
    return {
        "reports_lost": len(lost),
        "reports_unconfirmed": len(pending) - len(lost),
        "readable_within_s": round(last - burst_end, 2) if not pending else None,
        "last_readable_after_s": round(last - burst_end, 2),
        "newest_readable_after_s": round(caught_up - burst_end, 2) if caught_up is not None else None,
        "all_listed_after_s": listed,
        "report_reads": gets,
        "read_rounds": rounds,
        "read_answers": dict(sorted(reads.answers.items())),
        "reads_per_s": round(gets / spent, 1) if spent > 0 else None,
        "readers": READERS,
    }


# -- cold start ------------------------------------------------------------------------------------


def bars_functions() -> set[str]:
    """Functions that serve only the BaRS API's paths (issue 13's cold-import target is theirs)."""
    from tkw_local.template import Template

    template = Template.read(ROOT / "template.yaml")
    return {
        spec.logical_id
        for spec in template.functions()
        if spec.routes and all(r.path.startswith(BASE + "/") for r in spec.routes)
    }


@functools.cache
def built_layer() -> Path:
    """The layer as ``sam build`` builds it (``layers/tkw/Makefile``: Lambda wheels, bytecode), once
    per run; removed when the bench exits."""
    tmp = Path(tempfile.mkdtemp(prefix="tkw-bench-layer-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    subprocess.run(
        ["make", "-s", "-C", str(ROOT / "layers" / "tkw"), "build-TkwLayer", f"ARTIFACTS_DIR={tmp}"],
        check=True,
        capture_output=True,
    )
    return tmp / "python"


# What every handler imports from Powertools before any of its own code: the floor under each figure.
POWERTOOLS_FLOOR = "Powertools alone"
_POWERTOOLS_IMPORTS = (
    "import aws_lambda_powertools.event_handler, aws_lambda_powertools.event_handler.middlewares;"
    "from aws_lambda_powertools import Logger, Metrics, Tracer"
)


# What the Lambda Python runtime has imported before it imports a handler: its bootstrap (the
# runtime interface client, awslambdaric 2.x: bootstrap.py and the modules it loads) imports these
# standard-library modules first, so a handler finds them loaded.
_LAMBDA_RUNTIME_IMPORTS = "import decimal, enum, importlib, json, logging, math, os, time, traceback"


def cold_imports(runs: int) -> dict[str, float]:
    """Median import time of each handler module in a fresh interpreter, as Lambda imports it: the
    built layer first on ``sys.path``, no site-packages (``-S``) but for what the Lambda runtime
    provides (boto3), behind the layer, after what the runtime's bootstrap has already imported.
    Round-robin (one import of each per round), so a spell of a slower machine weighs on every
    figure alike; Powertools' own imports are timed the same way."""
    from tkw_local.template import Template

    template = Template.read(ROOT / "template.yaml")
    layer = built_layer()
    runtime = [p for p in sys.path if p.endswith("site-packages")]
    setup = (
        f"import sys,time,importlib.util as u;sys.path.insert(0,{str(layer)!r});sys.path.extend({runtime!r});"
        f"{_LAMBDA_RUNTIME_IMPORTS};"
    )
    timed = {POWERTOOLS_FLOOR: _POWERTOOLS_IMPORTS}
    for spec in template.functions():
        module = ROOT / spec.code_uri / "app.py"
        timed[spec.logical_id] = (
            f"s=u.spec_from_file_location('app',{str(module)!r});m=u.module_from_spec(s);s.loader.exec_module(m)"
        )
    env = {**os.environ, **LAMBDA_ENV}
    samples: dict[str, list[float]] = {name: [] for name in timed}
    for _ in range(runs):
        for name, statement in timed.items():
            code = f"{setup}t=time.perf_counter();{statement};print((time.perf_counter()-t)*1000)"
            command = [sys.executable, "-S", "-c", code]
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            samples[name].append(float(done.stdout.strip()))
    return {name: round(statistics.median(values), 1) for name, values in samples.items()}


# -- warm, in process (information) ----------------------------------------------------------------


def warm_latency(iterations: int) -> dict[str, dict[str, float]]:
    """p50/p99 of each handler invoked in-process with its events/ file, AWS on moto (information:
    issue 13's latency targets are over HTTP)."""
    os.environ.update(LAMBDA_ENV)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        # The handlers' metrics (EMF lines on stdout) and Powertools' empty-metrics warning: noise here.
        warnings.simplefilter("ignore")
        return _warm_latency(iterations)


def _warm_latency(iterations: int) -> dict[str, dict[str, float]]:
    from moto import mock_aws

    from tkw_local.backend import Resolver, create_resources, parameters_from_env
    from tkw_local.functions import load_function
    from tkw_local.template import Template

    template = Template.read(ROOT / "template.yaml")
    events = {
        p.stem: event
        for p in sorted((ROOT / "events").glob("*.json"))
        if (event := json.loads(p.read_text()))["resource"].startswith(BASE)
    }
    by_resource = {(r.method, r.path): f for f in template.functions() for r in f.routes}
    out: dict[str, dict[str, float]] = {}
    with mock_aws():
        resolver = create_resources(template, Resolver(parameters=parameters_from_env(template, {})))
        for spec in template.functions():
            for name, value in spec.environment.items():
                os.environ[name] = str(resolver.resolve(value))
        os.environ.update(LAMBDA_ENV)  # quiet logs: measure the work, not the terminal
        # The handlers' own work: reports are produced by the report worker, off this path (an
        # in-process worker thread here would share the interpreter and its backlog with the timing).
        os.environ["REPORTS_ENABLED"] = "false"
        loaded: dict[str, Any] = {}
        for name, event in events.items():
            handler = by_resource.get((event["httpMethod"], event["resource"])) or by_resource.get(
                ("ANY", event["resource"])
            )
            if handler is None:
                continue
            fn = loaded.setdefault(handler.logical_id, load_function(template.root, handler))
            for _ in range(20):
                fn.invoke(_fresh_ids(event))
            samples = []
            for _ in range(iterations):
                fresh = _fresh_ids(event)
                started = time.perf_counter()
                fn.invoke(fresh)
                samples.append((time.perf_counter() - started) * 1000)
            out[name] = {"p50_ms": round(percentile(samples, 50), 3), "p99_ms": round(percentile(samples, 99), 3)}
    return out


def _fresh_ids(event: dict[str, Any]) -> dict[str, Any]:
    """A new X-Request-Id per call: a reused one is a duplicate, which is a different code path."""
    fresh = dict(event)
    rid = str(uuid.uuid4())
    fresh["headers"] = {**event["headers"], "X-Request-Id": rid}
    fresh["multiValueHeaders"] = {**event["multiValueHeaders"], "X-Request-Id": [rid]}
    return fresh


# -- receiver suite (information), layer size -------------------------------------------------------


def receiver_suite() -> dict[str, Any]:
    """Wall time of one Application's suites (CLI, fresh process) against a BaRS-following loopback stub.

    Application 1 (happy path and error suite, the largest): what a receiver supplier runs.
    """
    import logging

    from unit.receiver.receiver_stubs import compliant_app, serve

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the stub's access log

    with serve(compliant_app()) as stub, tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        started = time.perf_counter()
        done = subprocess.run(
            [
                str(ROOT / ".venv" / "bin" / "tkw"),
                "receiver-run",
                "--endpoint",
                stub.url(),
                "--target",
                "2000011147",
                "--application",
                "1",
                "--json",
                str(out),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "ALLOW_PRIVATE_RECEIVERS": "true"},
        )
        wall = time.perf_counter() - started
        summary: dict[str, Any] = {"wall_s": round(wall, 3), "exit_code": done.returncode}
        if out.exists():
            data = json.loads(out.read_text())
            summary["tests"] = len(data.get("results", []))
            summary["status"] = data.get("status")
        return summary


def report_worker(reports: int) -> dict[str, Any]:
    """The report worker function alone on booking report jobs, in a fresh interpreter
    (``bench/report_worker.py``): with reports on, booking throughput is bound by it."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "report_worker.py"), str(reports), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, **LAMBDA_ENV},
    )
    if done.returncode != 0:
        raise BenchError(f"bench/report_worker.py failed:\n{done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def layer_size() -> dict[str, Any]:
    size = sum(f.stat().st_size for f in built_layer().rglob("*") if f.is_file())
    return {"unzipped_mb": round(size / 1024 / 1024, 1)}


# -- profile validation (issue 16) ---------------------------------------------------------------------

PROFILE_MESSAGE = (
    ROOT
    / "tests"
    / "fixtures"
    / "bars-spec"
    / "ig-examples"
    / "examples"
    / "REFREQ01_-_Referral_Service_Request_New_Full_-_111_to_ED.json"
)


def profile_validation(iterations: int) -> dict[str, Any]:
    """Loading the shipped profiles in a fresh interpreter (median of 3), then p50/p99 of validating
    REFREQ01 (25 resources; 41 KB as published, 23 KB minified) warm, in process."""
    code = (
        "import sys,time;"
        f"sys.path.insert(0,{str(ROOT / 'layers' / 'tkw')!r});"
        "t=time.perf_counter();"
        "from tkw.profiles import validate_body;from tkw.profiles.conformance import conformance;conformance();"
        "print((time.perf_counter()-t)*1000)"
    )
    loads = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(3)
    ]
    from tkw.profiles import validate_body

    body = json.loads(PROFILE_MESSAGE.read_text(encoding="utf-8"))
    validate_body(body)  # first use indexes the profiles it needs and compiles invariants
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        validate_body(body)
        samples.append((time.perf_counter() - start) * 1000)
    return {
        "load_ms": round(statistics.median(loads), 1),
        "message_bytes": len(PROFILE_MESSAGE.read_bytes()),
        "warm_p50_ms": round(percentile(samples, 50), 2),
        "warm_p99_ms": round(percentile(samples, 99), 2),
    }


# -- the HTTP figures of issue 13 -----------------------------------------------------------------------


def http_figures() -> dict[str, Any]:
    """Reference, reports on, reports off: each server started fresh, pinned, checked, then timed;
    the burst on a fresh emulator of its own (reports on)."""
    out: dict[str, Any] = {
        "pinned": PIN_AVAILABLE,
        "wrk": f"wrk -t1 -c{WRK_CONNECTIONS} -d{WRK_SECONDS}s, a fresh X-Request-Id per request",
        "servers": {},
    }
    with on_cpu(LOAD_CPU):
        for key, start in SERVERS:
            print(f"… {key}: throughput, one client", flush=True)
            with start() as server:
                server.pin()
                figures: dict[str, Any] = {"checked": check_answers(server)}
                figures["throughput"] = throughput(server)
                figures["one_client"] = one_client(server)
                figures["pinning"] = server.pinning
                out["servers"][key] = figures
        reference = out["servers"]["reference"]["throughput"]
        for key in ("reports_on", "reports_off"):
            for label, figures in out["servers"][key]["throughput"].items():
                figures["ratio"] = round(figures["rps"] / reference[label]["rps"], 4)
        print(f"… reports_on: burst of {BURST_REQUESTS:,} mixed requests, then every report read back", flush=True)
        with emulator(reports=True) as server:
            server.pin()
            check_answers(server)
            out["burst"] = burst(server)
            out["burst"]["pinning"] = server.pinning
    return out


def throughput_only(match: str) -> int:
    """``python bench/run.py --throughput booking``: only the throughput of the routes whose label
    contains ``match``, reference then emulator with reports on and off, as :func:`http_figures`
    measures it (information while working on one route; writes no results.json)."""
    routes = tuple(r for r in ROUTES if match.lower() in r.label.lower())
    if not routes or not shutil.which("wrk"):
        print(f"no route matches {match!r}, or wrk is missing", file=sys.stderr)
        return 1
    figures: dict[str, dict[str, dict[str, float]]] = {}
    try:
        with on_cpu(LOAD_CPU):
            for key, start in SERVERS:
                with start() as server:
                    server.pin()
                    check_answers(server)
                    figures[key] = throughput(server, routes)
    except BenchError as err:
        print(f"BENCH FAILED: {err}", file=sys.stderr)
        return 1
    for route in routes:
        reference = figures["reference"][route.label]["rps"]
        shown = ", ".join(
            f"{key.replace('_', ' ')} {f[route.label]['rps']:,.0f} req/s ({f[route.label]['rps'] / reference:.3f}x)"
            for key, f in figures.items()
            if key != "reference"
        )
        print(f"{route.label}: reference {reference:,.0f} req/s; {shown}")
    return 0


# -- report --------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Issue 13's figures next to their targets (BENCH_QUICK=1: a short run); writes bench/results.json."
    )
    parser.add_argument(
        "--throughput",
        metavar="ROUTE",
        help="only the throughput of the routes whose name contains ROUTE (e.g. booking), printed, no results.json",
    )
    args = parser.parse_args()
    if args.throughput is not None:
        return throughput_only(args.throughput)
    if not shutil.which("wrk"):
        print("wrk not found: apt-get install wrk (or brew install wrk)", file=sys.stderr)
        return 1
    steps: dict[str, Callable[[], Any]] = {
        "http": http_figures,
        "cold_import_ms": lambda: cold_imports(3 if QUICK else 10),
        "warm_in_process": lambda: warm_latency(100 if QUICK else 1000),
        "report_worker": lambda: report_worker(1000 if QUICK else 3000),
        "receiver_suite": receiver_suite,
        "layer": layer_size,
        "profile_validation": lambda: profile_validation(20 if QUICK else 200),
    }
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "quick": QUICK,
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
        },
        "targets": TARGETS,
        "bars_functions": sorted(bars_functions()),
    }
    try:
        for name, step in steps.items():
            if name != "http":
                print(f"… {name}", flush=True)
            results[name] = step()
    except BenchError as err:
        print(f"\nBENCH FAILED, figures not trustworthy: {err}", file=sys.stderr)
        return 1
    results["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    errors = answer_errors(results["http"])
    for error in errors:
        print(f"BENCH ERROR: {error}", file=sys.stderr)
    return 2 if errors else 0


def answer_errors(h: dict[str, Any]) -> list[str]:
    """Timed runs with answers other than 2xx, or failed connections: their figures are not to be trusted."""
    errors = []
    for key, figures in h["servers"].items():
        for label, t in figures["throughput"].items():
            if t["non_2xx"] or t["socket_errors"]:
                failed = f"{t['non_2xx']:.0f} non-2xx answers, {t['socket_errors']:.0f} socket errors"
                errors.append(f"{key}, {label}: {failed} under wrk")
    burst_statuses = h["burst"]["statuses"]
    if set(burst_statuses) != {"200"}:
        errors.append(f"burst: answers other than 200: {burst_statuses}")
    return errors


Row = tuple[str, str, str, str]


def _ok(passed: bool) -> str:
    return "✓" if passed else "✗"


def http_rows(h: dict[str, Any]) -> list[Row]:
    servers = h["servers"]
    pin = (
        "server on CPU 0; the emulator's report worker and the load on CPU 1"
        if h["pinned"]
        else "unpinned: taskset not available"
    )
    rows: list[Row] = [(f"Throughput ({h['wrk']}; {pin})", "", "", "")]
    for route in ROUTES:
        ref = servers["reference"]["throughput"][route.label]
        rows.append((f"  {route.label}, reference", f"{ref['rps']:,.0f} req/s", "–", ""))
        for key, name in (("reports_on", "reports on"), ("reports_off", "reports off")):
            t = servers[key]["throughput"][route.label]
            errors = t["non_2xx"] + t["socket_errors"]
            value = f"{t['rps']:,.0f} req/s = {t['ratio']:.3f}× (non-2xx {t['non_2xx']:.0f})"
            if t["socket_errors"]:
                value += f", socket errors {t['socket_errors']:.0f}"
            if key == "reports_on":
                target = f"≥ {TARGETS['throughput_ratio']}× (aim {TARGETS['throughput_ratio_aim']}×)"
                mark = _ok(t["ratio"] >= TARGETS["throughput_ratio"] and not errors)
            else:
                target, mark = "information", "" if not errors else "✗ errors"
            rows.append((f"  {route.label}, {name}", value, target, mark))
    if h["pinned"]:
        trees = ", ".join(f"{key} {servers[key]['pinning'].get('processes', '?')}" for key in servers)
        rows.append(("  processes pinned (API on CPU 0, workers on CPU 1)", trees, "information", ""))
    timed = servers["reports_on"]["one_client"][ROUTES[0].label]["requests"]
    rows.append((f"One client, sequential, keep-alive ({timed} requests per route)", "", "", ""))
    for route in ROUTES:
        limit = TARGETS["one_client_p50_booking_ms" if route.method == "POST" else "one_client_p50_get_ms"]
        for key, name in (("reports_on", "reports on"), ("reports_off", "reports off"), ("reference", "reference")):
            c = servers[key]["one_client"][route.label]
            value = f"p50 {c['p50_ms']:.2f} ms, p90 {c['p90_ms']:.2f} ms"
            if key == "reports_on":
                rows.append((f"  {route.label}, {name}", value, f"p50 ≤ {limit:g} ms", _ok(c["p50_ms"] <= limit)))
            else:
                rows.append((f"  {route.label}, {name}", value, "information", ""))
    rows += burst_rows(h["burst"])
    return rows


def burst_rows(b: dict[str, Any]) -> list[Row]:
    statuses = ", ".join(f"{k}: {v:,}" for k, v in b["statuses"].items())
    all_ok = b["statuses"] == {"200": b["requests"]}
    every_id = b["answers_without_report_id"] == 0 and b["distinct_report_ids"] == b["requests"]
    lost = f"{b['reports_lost']:,}"
    if b["reports_unconfirmed"]:
        lost += f" (+ {b['reports_unconfirmed']:,} not read within {READ_CAP_S:.0f} s: unconfirmed)"
    within = b["readable_within_s"]
    readable = f"{within:.2f} s" if within is not None else "not all"
    readable += f" ({b['report_reads']:,} reads at {b['reads_per_s'] or 0:,.0f}/s, {b['readers']} readers)"
    newest = b["newest_readable_after_s"]
    listed = b.get("all_listed_after_s")
    return [
        (f"Burst: {b['requests']:,} mixed requests, {b['clients']} clients, reports on", "", "", ""),
        ("  answers", f"{b['rps']:,.0f} req/s for {b['seconds']:.1f} s ({statuses})", "all 200", _ok(all_ok)),
        ("  distinct TKW-Report-Ids returned", f"{b['distinct_report_ids']:,}", "one per answer", _ok(every_id)),
        (
            f"  reports lost (not readable {READABLE_LIMIT_S:.0f} s after the burst)",
            lost,
            "0",
            _ok(b["reports_lost"] == 0 and not b["reports_unconfirmed"] and every_id),
        ),
        (
            "  every report readable within (after the burst's end)",
            f"{newest:.2f} s (the newest; every one read back: lost above)"
            if newest is not None
            else f"not within {READABLE_LIMIT_S:.0f} s",
            f"≤ {TARGETS['reports_readable_s']:g} s",
            _ok(newest is not None and newest <= TARGETS["reports_readable_s"] and b["reports_lost"] == 0),
        ),
        (
            "  every report in the listing after (a sweep, newest page first)",
            f"{listed:.2f} s" if listed is not None else f"not within {READABLE_LIMIT_S:.0f} s",
            "information",
            "",
        ),
        ("  every report read back, one by one, readable by", readable, "information", ""),
    ]


def print_table(r: dict[str, Any]) -> None:
    rows = http_rows(r["http"])
    bars = set(r["bars_functions"])
    rows.append(("Cold import (fresh interpreter, the built layer, median)", "", "", ""))
    for fn, ms in r["cold_import_ms"].items():
        if fn == POWERTOOLS_FLOOR:
            what = f"  {fn} (event handler, Logger, Metrics, Tracer: in every handler)"
            rows.append((what, f"{ms:.0f} ms", "information", ""))
        elif fn in bars:
            rows.append((f"  {fn}", f"{ms:.0f} ms", "≤ 250 ms", _ok(ms <= TARGETS["cold_import_ms"])))
        else:
            rows.append((f"  {fn} (not a BaRS handler)", f"{ms:.0f} ms", "information", ""))
    rows.append(("In-process warm latency of the handlers, AWS on moto, reports off (p50 / p99)", "", "", ""))
    for name, lat in r["warm_in_process"].items():
        rows.append((f"  {name}", f"{lat['p50_ms']:.2f} / {lat['p99_ms']:.2f} ms", "information", ""))
    rows.append(("Other", "", "", ""))
    rw = r["report_worker"]
    rows.append(
        (
            f"  report worker alone, booking reports in batches of {rw['batch_size']} (in process, moto)",
            f"{rw['reports_per_s']:.0f}/s; {rw['ms_per_report']:.2f} ms a report, {rw['cpu_ms_per_report']:.2f} CPU",
            "information",
            "",
        )
    )
    rs = r["receiver_suite"]
    rows.append(
        (
            f"  receiver suites, Application 1 ({rs.get('tests', '?')} tests, loopback stub)",
            f"{rs['wall_s']:.2f} s (exit {rs['exit_code']})",
            "information",
            "",
        )
    )
    ly = r["layer"]
    rows.append(
        (
            "  layer size (as sam build builds it, unzipped)",
            f"{ly['unzipped_mb']} MB" if "unzipped_mb" in ly else ly["skipped"],
            "≤ 60 MB",
            _ok(ly["unzipped_mb"] <= TARGETS["layer_mb"]) if "unzipped_mb" in ly else "",
        )
    )
    pv = r["profile_validation"]
    rows += [
        ("  profile load (fresh process)", f"{pv['load_ms']:.0f} ms", "≤ 2000 ms",
         _ok(pv["load_ms"] <= TARGETS["profiles_load_ms"])),
        (f"  profile validation REFREQ01 ({pv['message_bytes'] // 1024} KB) p50 / p99",
         f"{pv['warm_p50_ms']:.1f} / {pv['warm_p99_ms']:.1f} ms", "p50 ≤ 30 ms",
         _ok(pv["warm_p50_ms"] <= TARGETS["profiles_warm_ms"])),
    ]  # fmt: skip
    width = max(len(a) for a, b, *_ in rows if b)
    vwidth = max(len(b) for _, b, *_ in rows)
    twidth = max(len(c) for _, _, c, _ in rows)
    m = r["machine"]
    print(f"\n{m['cpus']} CPUs, Python {m['python']}, load average before/after (1, 5, 15 min): "
          f"{m['load_average_before']} / {m['load_average_after']}{'; BENCH_QUICK' if m['quick'] else ''}")  # fmt: skip
    for a, b, c, d in rows:
        print(a if not b else f"{a:<{width}}  {b:<{vwidth}}  {c:<{twidth}}  {d}")


if __name__ == "__main__":
    raise SystemExit(main())
