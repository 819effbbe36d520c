"""``tkw``: the emulator's command line.

tkw receiver-run --endpoint URL --target ID [--application N [--suites happy,error] | --tests ...]
                 [--junit FILE] [--via EMULATOR_URL]
    Send a BaRS Application's receiver suites (happy path, error suite or both) to a receiver
    and check every answer: directly from this machine (default), or through a running
    emulator, local or deployed (--via). Shows each test as it completes, prints a summary,
    writes JUnit XML (one testsuite per Application), exits 1 when a test fails.
tkw receiver-suite [--application N] [--suite happy|error]
    List the suites' tests, by Application.
tkw certs --out DIR [--server-name localhost]
    Write a test root CA, a client certificate for the emulator and a server certificate for
    the receiver, to rehearse TLS-MA before requesting NHS certificates.
tkw auth keygen|register|token ...   (also: tkw keygen|register|token ...)
    Key pairs, app registration and access tokens (see ``tkw auth --help``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from tkw import BASE_PATH

AUTH_COMMANDS = ("keygen", "register", "token")
APPLICATIONS = ("1", "3", "4", "5", "6")  # the BaRS Applications with receiver suites (tkw.receiver.suite)
POLL_SECONDS = 0.5
VIA_DEADLINE_SECONDS = 20 * 60


def _tests(values: list[str] | None) -> list[str] | None:
    """``--tests a b`` and ``--tests a,b`` alike."""
    if not values:
        return None
    return [t for v in values for t in v.split(",") if t.strip()]


def _headers(values: list[str] | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values or []:
        name, sep, text = value.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"--header {value!r} must look like 'Name: value'")
        headers[name.strip()] = text.strip()
    return headers


def _read(path: str | None) -> str | None:
    return Path(path).read_text(encoding="utf-8") if path else None


class Progress:
    """Prints each test result as it arrives, then the summary."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.shown: set[str] = set()
        self.started = time.perf_counter()

    def result(self, result: Any) -> None:
        from tkw.receiver.models import TestResult

        item = result if isinstance(result, TestResult) else TestResult.model_validate(result)
        if item.status == "pending" or item.test_id in self.shown:
            return
        self.shown.add(item.test_id)
        label = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}[item.status]
        took = f" ({item.duration_ms:.0f} ms)" if item.duration_ms is not None else ""
        print(f"  {label} {item.test_id:<42} {item.name}{took}", file=self.out, flush=True)
        if item.status != "passed":
            failing = [c for c in item.checks if not c.passed and c.severity == "error"]
            for check in failing or []:
                print(f"         [{check.id}] {check.message}", file=self.out)
        for check in item.checks:
            if not check.passed and check.severity == "warning":
                print(f"         warning [{check.id}] {check.message}", file=self.out)

    def summary(self, status: str, reason: str | None, results: list[Any]) -> None:
        counts = {s: sum(1 for r in results if r.status == s) for s in ("passed", "failed", "skipped")}
        seconds = time.perf_counter() - self.started
        groups: dict[tuple[str, str], list[Any]] = {}
        for r in results:
            groups.setdefault((r.application, r.suite), []).append(r)
        if len(groups) > 1 or any(application for application, _ in groups):
            print("", file=self.out)
            for (application, kind), members in groups.items():
                passed = sum(1 for r in members if r.status == "passed")
                label = f"Application {application} {kind}" if application else "other tests"
                print(f"  {label:<22} {passed} of {len(members)} passed", file=self.out)
        print(
            f"\n{len(results)} tests: {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['skipped']} skipped in {seconds:.1f} s: {status.upper()}" + (f" ({reason})" if reason else ""),
            file=self.out,
            flush=True,
        )


def _write_reports(args: argparse.Namespace, report: Any, out: TextIO) -> None:
    from tkw.receiver import run_reports

    for path, render in (
        (args.junit, run_reports.render_junit),
        (args.json, run_reports.render_json),
        (args.html, run_reports.render_html),
    ):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_bytes(render(report))
            print(f"wrote {path}", file=out)


def receiver_run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout  # resolved per call: tests capture stdout
    from tkw.receiver.models import RunOptions

    try:
        # Validated from plain values, as the API does: --suites is text until RunOptions reads it.
        options = RunOptions.model_validate(
            {
                "endpoint": args.endpoint,
                "target_identifier": args.target,
                "tests": _tests(args.tests),
                "application": args.application,
                "suites": _tests(args.suites),
                "headers": _headers(args.header),
                "client_cert": _read(args.client_cert),
                "client_key": _read(args.client_key),
                "ca_bundle": _read(args.ca_bundle),
                "timeout_seconds": args.timeout,
            }
        )
    except ValidationError as err:
        for e in err.errors():
            where = ".".join(str(p) for p in e["loc"]) or "options"
            print(f"error: {where}: {e['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return _via(args, options, out) if args.via else _direct(args, options, out)


def _direct(args: argparse.Namespace, options: Any, out: TextIO) -> int:
    from tkw.receiver.models import RunRecord, RunReport, RunSummary
    from tkw.receiver.runner import RunConfig, SuiteRun
    from tkw.receiver.safety import AddressGuard
    from tkw.receiver.suite import load_suite
    from tkw.receiver.transport import HttpTransport, TlsOptions, ssl_context

    suite = load_suite()
    try:
        tests = suite.select(options.tests, options.application, options.suites)
    except KeyError as err:
        print(f"error: unknown tests: {err.args[0]} (see `tkw receiver-suite`)", file=sys.stderr)
        return 2
    except ValueError as err:
        print(f"error: {err} (see `tkw receiver-suite --application {options.application}`)", file=sys.stderr)
        return 2
    tls = TlsOptions(options.client_cert, options.client_key, options.ca_bundle)
    try:
        if options.endpoint.startswith("https://"):
            ssl_context(tls)
    except (ValueError, OSError) as err:
        print(f"error: the TLS material cannot be used: {err}", file=sys.stderr)
        return 2
    created = datetime.now(UTC).isoformat(timespec="milliseconds")
    print(f"Receiver suite {suite.version}: {len(tests)} tests against {options.endpoint}", file=out, flush=True)
    progress = Progress(out)
    # On your own machine any address is fair game: the SSRF guard protects a deployed emulator.
    transport = HttpTransport(AddressGuard(allow_private=True), timeout=options.timeout_seconds, tls=tls)
    config = RunConfig(
        endpoint=options.endpoint,
        target=options.target_identifier,
        tests=[t.id for t in tests],
        headers=options.headers,
        concurrency=args.concurrency,
    )
    outcome = SuiteRun(config, transport, suite=suite, on_result=progress.result).run()
    progress.summary(outcome.status, outcome.reason, outcome.results)
    record = RunRecord(
        run_id=str(uuid.uuid4()),
        status=outcome.status,
        endpoint=options.endpoint,
        target_identifier=options.target_identifier,
        tests=config.tests or [],
        application=options.application,
        suites=list(options.suites or []),
        mutual_tls=tls.mutual,
        created_at=created,
        started_at=created,
        finished_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        reason=outcome.reason,
        summary=RunSummary.of(outcome.results),
        suite_version=suite.version,
    )
    _write_reports(args, RunReport(run=record, suite=suite.name, results=outcome.results), out)
    return 0 if outcome.status == "passed" else 1


def _emulator_root(url: str) -> str:
    """Accept the emulator's root or its BaRS base URL."""
    url = url.rstrip("/")
    return url.removesuffix(BASE_PATH)


def _http_json(
    method: str,
    url: str,
    body: Any = None,
    token: str | None = None,
    timeout: float = 30,
    extra_headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {
        "Content-Type": "application/json",
        "X-Request-Id": str(uuid.uuid4()),
        "X-Correlation-Id": str(uuid.uuid4()),
        **(extra_headers or {}),
    }
    if token:  # an emulator in int mode wants a bearer token on /tkw endpoints too
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - the user's emulator
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw)
        except ValueError:
            return err.code, {"message": raw.decode("utf-8", "replace")[:500]}


def _error_text(body: Any) -> str:
    """The message of a JSON error, or the diagnostics of an OperationOutcome."""
    if isinstance(body, dict):
        if body.get("resourceType") == "OperationOutcome":
            return "; ".join(str(i.get("diagnostics", "")) for i in body.get("issue", []))
        return str(body.get("message", body))
    return str(body)


def _via(args: argparse.Namespace, options: Any, out: TextIO) -> int:
    from tkw.receiver.models import FINISHED, RunRecord, RunReport, TestResult

    root = _emulator_root(args.via)
    payload = options.model_dump(exclude_none=True)
    try:
        status, started = _http_json("POST", f"{root}/tkw/receiver-runs", payload, args.via_token)
    except (OSError, ValueError) as err:
        print(f"error: cannot reach the emulator at {root}: {err}", file=sys.stderr)
        return 2
    if status != 202:
        message = _error_text(started)
        print(f"error: the emulator refused the run (HTTP {status}): {message}", file=sys.stderr)
        return 2
    run_id = started["run_id"]
    print(
        f"Run {run_id} queued at {root}: {len(started['tests'])} tests against {options.endpoint}", file=out, flush=True
    )
    progress = Progress(out)
    deadline = time.monotonic() + VIA_DEADLINE_SECONDS
    view: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            code, view = _http_json("GET", f"{root}/tkw/receiver-runs/{run_id}", token=args.via_token)
        except (OSError, ValueError) as err:
            print(f"  (polling failed: {err}; retrying)", file=out)
            time.sleep(POLL_SECONDS * 4)
            continue
        if code != 200:
            print(f"error: reading the run failed (HTTP {code}): {_error_text(view)}", file=sys.stderr)
            return 2
        for item in view.get("results", []):
            progress.result(item)
        if view.get("status") in FINISHED:
            break
        time.sleep(POLL_SECONDS)
    else:
        print(f"error: the run did not finish within {VIA_DEADLINE_SECONDS // 60} minutes", file=sys.stderr)
        return 2
    results = [TestResult.model_validate(r) for r in view.get("results", [])]
    progress.summary(str(view["status"]), view.get("reason"), results)
    for label, link in (view.get("links") or {}).items():
        print(f"  {label}: {link}", file=out)
    record = RunRecord.model_validate({k: v for k, v in view.items() if k in RunRecord.model_fields})
    _write_reports(args, RunReport(run=record, suite="BaRS receiver suites", results=results), out)
    return 0 if view["status"] == "passed" else 1


def receiver_suite(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout  # resolved per call: tests capture stdout
    from tkw.receiver.suite import load_suite

    suite = load_suite()
    if args.json_output:
        from tkw.receiver.service import suite_description

        print(json.dumps(suite_description(suite, args.application, args.suite), indent=2), file=out)
        return 0
    print(f"{suite.name} {suite.version}", file=out)
    for application in suite.applications:
        if args.application not in (None, application.id):
            continue
        print(f"\nApplication {application.id}: {application.name} (UCC {application.use_case})", file=out)
        for kind in ("happy", "error"):
            tests = [t for t in suite.tests if t.application == application.id and t.suite == kind]
            if args.suite not in (None, kind) or not tests:
                continue
            print(f"  {'Happy path' if kind == 'happy' else 'Error suite'}:", file=out)
            for test in tests:
                expected = f"{test.expect.status}" + (f" {test.expect.bars_code}" if test.expect.bars_code else "")
                print(
                    f"    {test.id:<42} {test.request.method:<6} {test.request.path:<26} {expected:<27} {test.name}",
                    file=out,
                )
    return 0


def certs(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout  # resolved per call: tests capture stdout
    from tkw.receiver.tls import generate_test_pki

    pki = generate_test_pki(Path(args.out), server_name=args.server_name, days=args.days)
    print(
        f"Test certificates (valid {args.days} days) in {pki.folder}:\n"
        f"  {pki.ca.name:<16} root CA: the receiver trusts it for clients, TKW for the server\n"
        f"  {pki.server_cert.name:<16} + {pki.server_key.name}: the receiver server certificate ({args.server_name})\n"
        f"  {pki.client_cert.name:<16} + {pki.client_key.name}: the client certificate TKW presents\n"
        "Run the suite with TLS-MA:\n"
        f"  tkw receiver-run --endpoint https://{args.server_name}:<port>{BASE_PATH} --target <service id> \\\n"
        f"    --client-cert {pki.client_cert} --client-key {pki.client_key} --ca-bundle {pki.ca}",
        file=out,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tkw", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("receiver-run", help="send the BaRS receiver suite to a receiver")
    run.add_argument("--endpoint", required=True, help="the receiver's BaRS base URL")
    run.add_argument("--target", required=True, help="the receiver's DoS service id (NHSD-Target-Identifier value)")
    run.add_argument(
        "--application", choices=APPLICATIONS, help="the BaRS Application whose suites to run (default: all)"
    )
    run.add_argument("--suites", nargs="+", metavar="SUITE", help="happy, error or both (happy,error; the default)")
    run.add_argument("--tests", nargs="+", metavar="ID", help="only these tests (and what they depend on)")
    run.add_argument("--header", action="append", metavar="'NAME: VALUE'", help="an extra header on every request")
    run.add_argument("--client-cert", metavar="PEM", help="client certificate TKW presents (TLS-MA)")
    run.add_argument("--client-key", metavar="PEM", help="its private key")
    run.add_argument("--ca-bundle", metavar="PEM", help="CA certificates the receiver's certificate must chain to")
    run.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
    run.add_argument("--concurrency", type=int, default=4, help="requests in flight at once (default 4, max 8)")
    run.add_argument("--via", metavar="EMULATOR_URL", help="run through this emulator (local or deployed)")
    run.add_argument(
        "--via-token",
        default=os.environ.get("TKW_TOKEN"),
        metavar="TOKEN",
        help="bearer token for an emulator in int mode (TKW_TOKEN; e.g. $(tkw auth token))",
    )
    run.add_argument("--junit", metavar="FILE", help="write JUnit XML here")
    run.add_argument("--json", metavar="FILE", help="write the JSON results here")
    run.add_argument("--html", metavar="FILE", help="write the HTML report here")
    run.set_defaults(run=receiver_run)

    suite = commands.add_parser("receiver-suite", help="list the receiver suite's tests")
    suite.add_argument("--json", dest="json_output", action="store_true", help="as JSON")
    suite.add_argument("--application", choices=APPLICATIONS, help="only this BaRS Application's tests")
    suite.add_argument("--suite", choices=("happy", "error"), help="only its happy path or its error suite")
    suite.set_defaults(run=receiver_suite)

    cert = commands.add_parser("certs", help="write test certificates to rehearse TLS-MA")
    cert.add_argument("--out", required=True, help="folder to write the PEM files to")
    cert.add_argument("--server-name", default="localhost", help="host name (or IP) of the receiver's certificate")
    cert.add_argument("--days", type=int, default=30, help="validity in days (default 30)")
    cert.set_defaults(run=certs)

    from tkw.cli_endpoints import add_commands as add_endpoint_commands
    from tkw.cli_endpoints import add_listen_command

    add_endpoint_commands(commands)
    add_listen_command(commands)

    commands.add_parser("auth", help="keygen | register | token (API-M style app credentials)", add_help=False)
    for name in AUTH_COMMANDS:
        commands.add_parser(name, help=f"same as `tkw auth {name}`", add_help=False)
    return parser


def _delegate_auth(argv: list[str]) -> int:
    try:
        module = importlib.import_module("tkw.cli_auth")
    except ImportError:
        print("error: the auth commands are not part of this build", file=sys.stderr)
        return 2
    entry: Callable[[list[str]], int] = module.main
    return int(entry(argv))


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "auth":
        return _delegate_auth(args_list[1:])
    if args_list and args_list[0] in AUTH_COMMANDS:
        return _delegate_auth(args_list)
    args = build_parser().parse_args(args_list)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
