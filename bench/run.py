"""``make bench``: cold start, warm latency, HTTP throughput, receiver suite, layer size and profile validation.

Writes bench/results.json and prints each figure next to its target. Timings live here, never in
tests: a benchmark reports, it does not pass or fail a build.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "tkw"), str(ROOT / "tests")]
RESULTS = ROOT / "bench" / "results.json"
BASE = "/booking-and-referral/FHIR/R4"
QUICK = os.environ.get("BENCH_QUICK") == "1"

TARGETS = {
    "cold_import_ms": 250.0,
    "warm_get_p99_ms": 2.0,
    "warm_booking_p99_ms": 10.0,
    "http_metadata_rps": 3000.0,
    "http_booking_rps": 2000.0,
    "receiver_suite_s": 3.0,
    "layer_mb": 60.0,
    "profiles_load_ms": 2000.0,
    "profiles_warm_ms": 30.0,
}

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


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# -- cold start ------------------------------------------------------------------------------------


def cold_imports(runs: int) -> dict[str, float]:
    """Median import time of each handler module in a fresh interpreter, layer on sys.path."""
    from tkw_local.template import Template

    template = Template.read(ROOT / "template.yaml")
    out: dict[str, float] = {}
    for spec in template.functions():
        module = ROOT / spec.code_uri / "app.py"
        code = (
            "import sys,time,importlib.util as u;"
            f"sys.path.insert(0,{str(ROOT / 'layers' / 'tkw')!r});"
            "t=time.perf_counter();"
            f"s=u.spec_from_file_location('app',{str(module)!r});m=u.module_from_spec(s);s.loader.exec_module(m);"
            "print((time.perf_counter()-t)*1000)"
        )
        env = {**os.environ, **LAMBDA_ENV}
        samples = [
            float(
                subprocess.run(
                    [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
                ).stdout.strip()
            )
            for _ in range(runs)
        ]
        out[spec.logical_id] = round(statistics.median(samples), 1)
    return out


# -- warm, in process --------------------------------------------------------------------------------


def warm_latency(iterations: int) -> dict[str, dict[str, float]]:
    """p50/p99 of each handler invoked in-process with its events/ file, AWS on moto."""
    os.environ.update(LAMBDA_ENV)
    from moto import mock_aws

    from tkw_local.backend import Resolver, create_resources, parameters_from_env
    from tkw_local.functions import load_function
    from tkw_local.template import Template

    template = Template.read(ROOT / "template.yaml")
    # The BaRS routes (the targets are theirs); the emulator's own /tkw endpoints are not timed here.
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
        loaded: dict[str, Any] = {}
        for name, event in events.items():
            spec = by_resource.get((event["httpMethod"], event["resource"])) or by_resource.get(
                ("ANY", event["resource"])
            )
            if spec is None:
                continue
            fn = loaded.setdefault(spec.logical_id, load_function(template.root, spec))
            for _ in range(20):
                fresh = _fresh_ids(event)
                fn.invoke(fresh)
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
    import uuid

    fresh = dict(event)
    rid = str(uuid.uuid4())
    fresh["headers"] = {**event["headers"], "X-Request-Id": rid}
    fresh["multiValueHeaders"] = {**event["multiValueHeaders"], "X-Request-Id": [rid]}
    return fresh


# -- over HTTP -----------------------------------------------------------------------------------------


def http_throughput(seconds: int, reports: bool = True) -> dict[str, dict[str, float]]:
    from bars_support import bars_headers
    from emulator_support import free_port

    port = free_port()
    env = {**os.environ, "PORT": str(port), "REPORTS_ENABLED": "true" if reports else "false"}
    for name in ("AWS_ENDPOINT_URL", "TKW_AWS_ENDPOINT_URL"):
        env.pop(name, None)
    pin_server, pin_load = (["taskset", "-c", "0"], ["taskset", "-c", "1"]) if shutil.which("taskset") else ([], [])
    server = subprocess.Popen(
        [*pin_server, sys.executable, "-m", "tkw_local"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    root = f"http://127.0.0.1:{port}"
    try:
        _wait_for(root + BASE + "/_ping")
        headers = bars_headers()
        booking = (ROOT / "tests" / "fixtures" / "booking-request.json").read_text()
        cases: dict[str, tuple[str, str, str | None]] = {
            "GET /metadata": ("GET", BASE + "/metadata", None),
            "GET /Slot": (
                "GET",
                BASE + "/Slot?status=free&Schedule.actor%3AHealthcareService=2000072489"
                "&start=ge2026-11-01T09:00:00%2B00:00&start=le2026-11-30T17:00:00%2B00:00"
                "&_include=Slot%3Aschedule&_include=Schedule%3Aactor%3AHealthcareService",
                None,
            ),
            "POST booking": ("POST", BASE + "/$process-message", booking),
        }
        out = {}
        for label, (method, path, body) in cases.items():
            h = dict(headers)
            if body is not None:
                h["Content-Type"] = "application/fhir+json"
            runner = _wrk if shutil.which("wrk") else _python_load
            out[label] = runner(root + path, method, h, body, seconds, pin_load)
        return out
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_for(url: str) -> None:
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


_WRK_SCRIPT = """
local uuid_n = 0
wrk.method = "%(method)s"
%(body)s
local base = %(headers)s
request = function()
  uuid_n = uuid_n + 1
  local h = {}
  for k, v in pairs(base) do h[k] = v end
  -- a fresh X-Request-Id each request: a repeated one would be a duplicate
  h["X-Request-Id"] = string.format("00000000-0000-4000-8000-%%012d", uuid_n)
  return wrk.format(nil, nil, h, wrk.body)
end
"""


def _wrk(
    url: str, method: str, headers: dict[str, str], body: str | None, seconds: int, pin: list[str]
) -> dict[str, float]:
    lua_headers = "{" + ",".join(f"[{json.dumps(k)}]={json.dumps(v)}" for k, v in headers.items()) + "}"
    script = _WRK_SCRIPT % {
        "method": method,
        "body": f"wrk.body = {json.dumps(body)}" if body is not None else "",
        "headers": lua_headers,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
    try:
        result = subprocess.run(
            [*pin, "wrk", "-t1", "-c16", f"-d{seconds}s", "--latency", "-s", fh.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(fh.name)
    return _parse_wrk(result)


def _parse_wrk(text: str) -> dict[str, float]:
    def ms(value: str) -> float:
        for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
            if value.endswith(unit):
                return float(value[: -len(unit)]) * factor
        return float(value)

    out: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split()
        if line.strip().startswith("50%"):
            out["p50_ms"] = round(ms(parts[1]), 3)
        elif line.strip().startswith("99%"):
            out["p99_ms"] = round(ms(parts[1]), 3)
        elif line.startswith("Requests/sec:"):
            out["rps"] = round(float(parts[1]), 1)
        elif "Non-2xx or 3xx responses" in line:
            out["non_2xx"] = float(parts[-1])
    return out


def _python_load(
    url: str, method: str, headers: dict[str, str], body: str | None, seconds: int, pin: list[str]
) -> dict[str, float]:
    """A bounded keep-alive client pool, when wrk is not installed."""
    import http.client
    import threading
    import uuid
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path + ("?" + parts.query if parts.query else "")
    samples: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        local: list[float] = []
        while time.monotonic() < stop:
            h = dict(headers, **{"X-Request-Id": str(uuid.uuid4())})
            started = time.perf_counter()
            conn.request(method, path, body=body.encode() if body else None, headers=h)
            conn.getresponse().read()
            local.append((time.perf_counter() - started) * 1000)
        with lock:
            samples.extend(local)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {
        "rps": round(len(samples) / elapsed, 1),
        "p50_ms": round(percentile(samples, 50), 3),
        "p99_ms": round(percentile(samples, 99), 3),
    }


# -- receiver suite, layer size -----------------------------------------------------------------------


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


def layer_size() -> dict[str, Any]:
    sam = ROOT / ".venv-sam" / "bin" / "sam"
    if not sam.exists():
        return {"skipped": "aws-sam-cli not installed (make install)"}
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [str(sam), "build", "--build-dir", f"{tmp}/build", "--cache-dir", f"{tmp}/cache"],
            cwd=ROOT,
            env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
            check=True,
            capture_output=True,
        )
        layer = Path(tmp) / "build" / "TkwLayer"
        size = sum(f.stat().st_size for f in layer.rglob("*") if f.is_file())
    return {"unzipped_mb": round(size / 1024 / 1024, 1)}


# -- profile validation (issue 16) ---------------------------------------------------------------------

PROFILE_MESSAGE = (
    ROOT / "tests" / "fixtures" / "bars-spec" / "ig-examples" / "examples"
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


def profile_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    pv = r.get("profile_validation")
    if not pv:
        return []
    return [
        ("profile load (fresh process)", f"{pv['load_ms']:.0f} ms", "≤ 2000 ms",
         "✓" if pv["load_ms"] <= TARGETS["profiles_load_ms"] else "✗"),
        (f"profile validation REFREQ01 ({pv['message_bytes'] // 1024} KB) p50/p99",
         f"{pv['warm_p50_ms']:.1f} / {pv['warm_p99_ms']:.1f} ms", "p50 ≤ 30 ms",
         "✓" if pv["warm_p50_ms"] <= TARGETS["profiles_warm_ms"] else "✗"),
    ]  # fmt: skip


# -- report --------------------------------------------------------------------------------------------


def main() -> int:
    steps: dict[str, Callable[[], Any]] = {
        "cold_import_ms": lambda: cold_imports(3 if QUICK else 10),
        "warm_in_process": lambda: warm_latency(100 if QUICK else 1000),
        "http": lambda: http_throughput(3 if QUICK else 10),
        "http_reports_off": lambda: http_throughput(3 if QUICK else 5, reports=False),
        "receiver_suite": receiver_suite,
        "layer": layer_size,
        "profile_validation": lambda: profile_validation(20 if QUICK else 200),
    }
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "targets": TARGETS,
    }
    for name, step in steps.items():
        print(f"… {name}", flush=True)
        results[name] = step()
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    return 0


def print_table(r: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str, str]] = []

    def ok(value: float, target: float, higher_is_better: bool = False) -> str:
        return "✓" if (value >= target if higher_is_better else value <= target) else "✗"

    for fn, ms in r["cold_import_ms"].items():
        rows.append((f"cold import {fn}", f"{ms:.0f} ms", "≤ 250 ms", ok(ms, TARGETS["cold_import_ms"])))
    for name, lat in r["warm_in_process"].items():
        target = TARGETS["warm_booking_p99_ms"] if name == "process_message" else TARGETS["warm_get_p99_ms"]
        rows.append(
            (
                f"warm {name} p50/p99",
                f"{lat['p50_ms']:.2f} / {lat['p99_ms']:.2f} ms",
                f"p99 ≤ {target:g} ms",
                ok(lat["p99_ms"], target),
            )
        )
    for label, h in r["http"].items():
        target = (
            TARGETS["http_metadata_rps"]
            if label == "GET /metadata"
            else (TARGETS["http_booking_rps"] if label == "POST booking" else 0.0)
        )
        rows.append(
            (
                f"HTTP {label}",
                f"{h.get('rps', 0):.0f} req/s (p50 {h.get('p50_ms', 0):.2f}, p99 {h.get('p99_ms', 0):.2f} ms)",
                f"≥ {target:g} req/s" if target else "–",
                ok(h.get("rps", 0), target, True) if target else "",
            )
        )
    for label, h in r.get("http_reports_off", {}).items():
        rows.append(
            (
                f"HTTP {label}, reports off",
                f"{h.get('rps', 0):.0f} req/s (p50 {h.get('p50_ms', 0):.2f}, p99 {h.get('p99_ms', 0):.2f} ms)",
                "–",
                "",
            )
        )
    rs = r["receiver_suite"]
    rows.append(
        (
            f"receiver suites, Application 1 ({rs.get('tests', '?')} tests, loopback stub)",
            f"{rs['wall_s']:.2f} s" if "wall_s" in rs else rs["skipped"],
            "≤ 3 s",
            ok(rs["wall_s"], TARGETS["receiver_suite_s"]) if "wall_s" in rs else "",
        )
    )
    ly = r["layer"]
    rows.append(
        (
            "layer size (sam build, unzipped)",
            f"{ly['unzipped_mb']} MB" if "unzipped_mb" in ly else ly["skipped"],
            "≤ 60 MB",
            ok(ly["unzipped_mb"], TARGETS["layer_mb"]) if "unzipped_mb" in ly else "",
        )
    )
    rows += profile_rows(r)
    width = max(len(a) for a, *_ in rows)
    vwidth = max(len(b) for _, b, *_ in rows)
    for a, b, c, d in rows:
        print(f"{a:<{width}}  {b:<{vwidth}}  {c:<14} {d}")


if __name__ == "__main__":
    raise SystemExit(main())
