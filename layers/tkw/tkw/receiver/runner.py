"""Running the suite against one receiver: dependency order, bounded concurrency, progress.

Tests whose dependencies have passed run concurrently (at most ``concurrency`` at a time), so a
whole run against a healthy receiver takes about as long as its longest chain (an
Application's happy path: new → updates → cancel). A test whose dependency did not pass is
skipped, saying which. When
the receiver cannot be reached at all (refused endpoint, connection failure, TLS-MA failure) the
run stops at once: every later request would fail the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from tkw.fhir.outcome import BarsError
from tkw.receiver.builder import BuildError, PreparedRequest, RequestBuilder
from tkw.receiver.checks import judge
from tkw.receiver.models import CheckResult, ReceivedResponse, SentRequest, TestResult, redact
from tkw.receiver.suite import Suite, SuiteKind, SuiteTest, load_suite
from tkw.receiver.transport import Answer, Transport, TransportError

ResultCallback = Callable[[TestResult], None]
MAX_CONCURRENCY = 8
_ABORTING = {"refused": "endpoint refused", "connect": "receiver unreachable", "tls": "TLS-MA failure"}


@dataclass(frozen=True)
class RunConfig:
    endpoint: str
    target: str
    target_system: str = "https://fhir.nhs.uk/Id/dos-service-id"
    tests: list[str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    concurrency: int = 4
    application: str | None = None  # with ``suites``: choose tests by Application and suite
    suites: list[SuiteKind] | None = None


@dataclass
class RunOutcome:
    status: Literal["passed", "failed"]
    reason: str | None
    results: list[TestResult]


@dataclass
class _Done:
    result: TestResult
    captures: dict[str, str]
    sent: PreparedRequest | None
    abort: str | None = None


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def warm_up() -> None:
    """Build the FHIR models once, before threads race to import them."""
    from fhir.resources.R4B import get_fhir_model_class

    get_fhir_model_class("Bundle")


def proxy_answer(error: TransportError, elapsed_ms: float) -> Answer | None:
    """What the BaRS proxy sends a sender when the receiver hop fails this way (BARS-API.md §4)."""
    if error.kind == "tls":
        outcome = BarsError.of(403, "REC_FORBIDDEN", "forbidden", f"TLS-MA failure: {error.reason}")
    elif error.kind == "timeout":
        outcome = BarsError.of(408, "REC_TIMEOUT", "timeout", f"The receiver timed out: {error.reason}.")
    else:
        return None
    import json

    return Answer(
        status=outcome.status,
        headers=(("Content-Type", "application/fhir+json"),),
        body=json.dumps(outcome.outcome()).encode(),
        elapsed_ms=elapsed_ms,
    )


class SuiteRun:
    def __init__(
        self,
        config: RunConfig,
        transport: Transport,
        suite: Suite | None = None,
        on_result: ResultCallback | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.suite = suite or load_suite()
        self.config = config
        self.transport = transport
        self.on_result = on_result
        self.tests = self.suite.select(config.tests, config.application, config.suites)
        self.builder = RequestBuilder(
            suite=self.suite,
            endpoint=config.endpoint.rstrip("/"),
            target=config.target,
            target_system=config.target_system,
            extra_headers=config.headers,
            **({"now": now} if now else {}),
        )
        # Ids captured from answers, per Application: each Application's workflow carries its own.
        self.captures: dict[str, dict[str, str]] = {}
        self.sent: dict[str, PreparedRequest] = {}
        self.results: dict[str, TestResult] = {}
        # Why a finished test cannot serve the tests that depend on it (None: it can). A test is
        # usable when it got the expected status and captured what it promised; other failures
        # (say, no header echo) are reported on it without hiding the tests that follow.
        self.unusable: dict[str, str | None] = {}
        self.abort: str | None = None

    def run(self) -> RunOutcome:
        warm_up()
        pending = list(self.tests)
        workers = max(1, min(self.config.concurrency, MAX_CONCURRENCY))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="receiver-run") as pool:
            running: dict[Future[_Done], SuiteTest] = {}
            while pending or running:
                progressed = True
                while progressed:
                    progressed = False
                    for test in list(pending):
                        if self.abort:
                            self._finish(self._skipped(test, f"not run: {self.abort}"))
                        elif any(d not in self.results for d in test.depends_on):
                            continue
                        elif blocked := [f"{d} ({self.unusable[d]})" for d in test.depends_on if self.unusable.get(d)]:
                            self._finish(self._skipped(test, f"skipped: depends on {'; '.join(blocked)}"))
                        elif len(running) < workers:
                            captures = dict(self.captures.get(test.application, {}))
                            running[pool.submit(self._execute, test, captures, dict(self.sent))] = test
                        else:
                            continue
                        pending.remove(test)
                        progressed = True
                if not running:
                    if pending:  # cannot happen with a validated suite (dependencies come first)
                        raise RuntimeError(f"tests {[t.id for t in pending]} can never run")
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    running.pop(future)
                    outcome = future.result()
                    application = outcome.result.application
                    self.captures.setdefault(application, {}).update(outcome.captures)
                    if outcome.sent is not None:
                        self.sent[outcome.result.test_id] = outcome.sent
                    if outcome.abort and not self.abort:
                        self.abort = outcome.abort
                    self._finish(outcome.result)
        ordered = [self.results[t.id] for t in self.tests]
        bad = [r for r in ordered if r.status != "passed"]
        if not bad:
            return RunOutcome("passed", None, ordered)
        failed = sum(1 for r in bad if r.status == "failed")
        skipped = len(bad) - failed
        reason = self.abort or f"{failed} of {len(ordered)} tests failed" + (f", {skipped} skipped" if skipped else "")
        return RunOutcome("failed", reason, ordered)

    def _finish(self, result: TestResult) -> None:
        self.results[result.test_id] = result
        self.unusable[result.test_id] = _unusable(result)
        if self.on_result is not None:
            self.on_result(result)

    @staticmethod
    def _skipped(test: SuiteTest, why: str) -> TestResult:
        return TestResult(
            test_id=test.id,
            name=test.name,
            group=test.group,
            application=test.application,
            suite=test.suite,
            status="skipped",
            message=why,
            checks=[CheckResult(id="dependencies", passed=False, severity="error", message=why)],
        )

    def _execute(self, test: SuiteTest, captures: dict[str, str], sent: dict[str, PreparedRequest]) -> _Done:
        started_at = _now_iso()
        started = time.perf_counter()
        base: dict[str, Any] = {
            "test_id": test.id,
            "name": test.name,
            "group": test.group,
            "application": test.application,
            "suite": test.suite,
            "started_at": started_at,
        }
        try:
            request = self.builder.build(test, captures, sent)
        except BuildError as err:
            check = CheckResult(
                id="request", passed=False, severity="error", message=f"cannot build the request: {err}"
            )
            return _Done(TestResult(**base, status="failed", message=check.message, checks=[check]), {}, None)
        shown = SentRequest(
            method=request.method,
            url=request.url,
            headers=redact(dict(request.headers)),
            body=request.body.decode("utf-8", "replace") if request.body is not None else None,
        )
        abort: str | None = None
        try:
            answer = self.transport.send(request)
            synthesized = False
            judgement = judge(
                test.expect,
                request,
                answer,
                {**captures, "target": self.config.target},
                self.suite.defaults.max_response_ms,
            )
            checks, new_captures = judgement.checks, judgement.captures
        except TransportError as err:
            elapsed = round((time.perf_counter() - started) * 1000, 1)
            if err.kind in _ABORTING:
                abort = f"{_ABORTING[err.kind]}: {err.reason}"
            proxied = proxy_answer(err, elapsed)
            label = {"tls": "TLS-MA failure", "timeout": "timeout"}.get(err.kind, err.kind)
            checks = [CheckResult(id="transport", passed=False, severity="error", message=f"{label}: {err.reason}")]
            if proxied is not None:
                answer, synthesized = proxied, True
                code = "REC_FORBIDDEN" if err.kind == "tls" else "REC_TIMEOUT"
                checks.insert(
                    0,
                    CheckResult(
                        id="status",
                        passed=False,
                        severity="error",
                        message=f"expected HTTP {test.expect.status}, found HTTP {proxied.status} {code} "
                        f"({label}, as the BaRS proxy reports it)",
                    ),
                )
            else:
                failed_result = TestResult(
                    **base,
                    status="failed",
                    message=checks[0].message,
                    checks=[
                        CheckResult(
                            id="status",
                            passed=False,
                            severity="error",
                            message=f"expected HTTP {test.expect.status}, found no HTTP answer",
                        ),
                        *checks,
                    ],
                    duration_ms=elapsed,
                    request=shown,
                )
                return _Done(failed_result, {}, request, abort)
            new_captures = {}
        errors = [c for c in checks if not c.passed and c.severity == "error"]
        warnings = [c for c in checks if not c.passed and c.severity == "warning"]
        if errors:
            more = len(errors) - 1
            message = errors[0].message + (f" [and {more} more failed check{'s' if more > 1 else ''}]" if more else "")
        else:
            message = f"{len(checks)} checks passed" + (f", {len(warnings)} with warnings" if warnings else "")
        result = TestResult(
            **base,
            status="failed" if errors else "passed",
            message=message,
            checks=checks,
            duration_ms=answer.elapsed_ms,
            response_status=answer.status,
            request=shown,
            response=ReceivedResponse(
                status=answer.status,
                headers=dict(answer.headers),
                body=answer.body.decode("utf-8", "replace"),
                elapsed_ms=answer.elapsed_ms,
                truncated=answer.truncated,
                synthesized=synthesized,
            ),
        )
        return _Done(result, new_captures, request, abort)


def _unusable(result: TestResult) -> str | None:
    if result.status == "skipped":
        return "it was not run"
    blocking = [
        c
        for c in result.checks
        if not c.passed and (c.id in {"status", "request", "transport"} or c.id.startswith("capture-"))
    ]
    return blocking[0].message if blocking else None


def run_suite(
    config: RunConfig,
    transport: Transport,
    *,
    suite: Suite | None = None,
    on_result: ResultCallback | None = None,
) -> RunOutcome:
    return SuiteRun(config, transport, suite=suite, on_result=on_result).run()
