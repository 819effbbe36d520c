"""Receiver runs as a service: what the API function and the SQS worker function call.

``POST /tkw/receiver-runs`` validates the run, stores it and queues it; the worker claims it,
runs the suite (recording each test's result as it completes, so polling shows progress), writes
the reports and finishes the run. Storage, queue and report bucket are ports; the AWS adapters
live in :mod:`tkw.adapters.receiver_store`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from tkw import outbound_limits
from tkw.access import Caller
from tkw.fhir.outcome import BarsError, Issue
from tkw.http import ApiRequest, ApiResponse
from tkw.outbound_limits import OutboundCounter, OutboundKind
from tkw.receiver import run_reports
from tkw.receiver.models import (
    FINISHED,
    RunOptions,
    RunRecord,
    RunReport,
    RunStatus,
    RunSummary,
    TestResult,
    redact,
)
from tkw.receiver.runner import RunConfig, SuiteRun
from tkw.receiver.safety import AddressGuard, EndpointRefused, check_endpoint
from tkw.receiver.suite import APPLICATION_IDS, SUITE_KINDS, Suite, load_suite
from tkw.receiver.transport import HttpTransport, TlsOptions, Transport, ssl_context
from tkw.reports.job import UNIDENTIFIED_ORGANISATION
from tkw.settings import Settings

if TYPE_CHECKING:
    from tkw.services import Services

logger = Logger(child=True)

# A run still "running" after this long lost its worker: the worker's timeout (300 s) has passed,
# and SQS redelivers its message after the queue's visibility timeout (360 s), so the redelivery
# takes the run over.
STALE_RUN_SECONDS = 360


class RunInProgress(Exception):
    """The message's run is being run by another worker right now: retry the message later."""


JSON = "application/json"


class RunStore(Protocol):
    def create(self, record: RunRecord, options: RunOptions, expires_at: int) -> None: ...

    def get(self, run_id: str, now: float) -> tuple[RunRecord, list[TestResult]] | None: ...

    def options(self, run_id: str, now: float) -> RunOptions | None: ...

    def claim(self, run_id: str, started_at: str, stale_before: str, now: float) -> RunRecord | None: ...

    def status(self, run_id: str, now: float) -> RunStatus | None: ...

    def put_result(self, run_id: str, result: TestResult, expires_at: int) -> None: ...

    def update(self, record: RunRecord, expires_at: int) -> None: ...

    def forget_options(self, run_id: str) -> None: ...

    def recent(self, organisation: str, limit: int, now: float) -> list[RunRecord]: ...


class RunQueue(Protocol):
    def enqueue(self, run_id: str) -> None: ...


class RunReportStore(Protocol):
    """Where a receiver run's report files (HTML, JSON, JUnit) go, with links to download them."""

    def put(self, run_id: str, files: dict[str, bytes]) -> None: ...

    def links(self, run_id: str, files: dict[str, str], expires_in: int) -> dict[str, str]: ...


TransportFactory = Callable[[RunOptions, AddressGuard], Transport]


def http_transport(options: RunOptions, guard: AddressGuard) -> Transport:
    tls = TlsOptions(options.client_cert, options.client_key, options.ca_bundle)
    return HttpTransport(guard, timeout=options.timeout_seconds, tls=tls)


@dataclass
class ReceiverServices:
    settings: Settings
    store: RunStore
    queue: RunQueue
    reports: RunReportStore
    counter: OutboundCounter  # hourly budget of receiver runs per organisation
    clock: Callable[[], float] = time.time
    transport: TransportFactory = http_transport
    suite: Suite = field(default_factory=load_suite)

    @property
    def guard(self) -> AddressGuard:
        return AddressGuard(allow_private=self.settings.allow_private_receivers)

    @property
    def retention_seconds(self) -> int:
        """Runs are kept as long as the bucket keeps reports (REPORT_RETENTION_DAYS)."""
        return self.settings.report_retention_days * 86400

    def iso(self, moment: float | None = None) -> str:
        return datetime.fromtimestamp(self.clock() if moment is None else moment, UTC).isoformat(
            timespec="milliseconds"
        )


def get_receiver_services() -> ReceiverServices:
    """This process's receiver-run collaborators (part of the one container, tkw.services)."""
    from tkw.services import get_services

    return get_services().receiver


def receiver_services_from(services: Services) -> ReceiverServices:
    """Receiver-run collaborators built over the container's settings and shared adapters."""
    from tkw.adapters.receiver_store import DynamoRunStore, S3RunReportStore, SqsRunQueue

    settings = services.settings
    return ReceiverServices(
        settings=settings,
        store=DynamoRunStore(settings.table_name),
        queue=SqsRunQueue(settings.receiver_runs_queue_url),
        reports=S3RunReportStore(settings.reports_bucket),
        counter=services.outbound_counter,
    )


# -- API ------------------------------------------------------------------------------------------


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> ApiResponse:
    return ApiResponse(status, body, content_type=JSON, headers=headers or {})


def _bad_request(message: str, details: list[dict[str, str]] | None = None) -> ApiResponse:
    """400 REC_BAD_REQUEST, as every /tkw error: an OperationOutcome naming the fields at fault."""
    fields = tuple(d["field"] for d in details or ())
    issue = Issue(code="invalid", bars_code="REC_BAD_REQUEST", diagnostics=message, expression=fields)
    return BarsError(status=400, issues=(issue,)).to_response()


def _not_found(message: str) -> ApiResponse:
    return BarsError.of(404, "REC_NOT_FOUND", "not-found", message).to_response()


def _organisation(request: ApiRequest, caller: Caller) -> str:
    # Sandbox runs without the header are kept together under "unidentified", as reports are.
    return caller.organisation(request, when_absent=UNIDENTIFIED_ORGANISATION)


def start_run(request: ApiRequest, caller: Caller, services: ReceiverServices | None = None) -> ApiResponse:
    """``POST /tkw/receiver-runs``: validate, store, queue; 202 with the run id."""
    services = services or get_receiver_services()
    organisation = _organisation(request, caller)
    try:
        data = json.loads(request.body or b"")
    except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than Python recurses
        return _bad_request('The body must be a JSON object, e.g. {"endpoint": ..., "target_identifier": ...}.')
    if not isinstance(data, dict):
        return _bad_request("The body must be a JSON object.")
    try:
        options = RunOptions.model_validate(data)
    except ValidationError as err:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"].removeprefix("Value error, ")}
            for e in err.errors()
        ]
        return _bad_request(
            "The run request is not valid: " + "; ".join(f"{d['field']}: {d['message']}" for d in details), details
        )
    try:
        tests = services.suite.select(options.tests, options.application, options.suites)
    except KeyError as err:
        return _bad_request(
            f"Unknown tests: {err.args[0]}. Known tests: {', '.join(services.suite.ids)}.",
            [{"field": "tests", "message": f"unknown: {err.args[0]}"}],
        )
    except ValueError as err:
        return _bad_request(f"The tests do not match the choice: {err}.", [{"field": "tests", "message": str(err)}])
    try:
        check_endpoint(options.endpoint, services.guard)
    except EndpointRefused as err:
        return _bad_request(f"The endpoint cannot be used: {err}.", [{"field": "endpoint", "message": str(err)}])
    if options.client_cert or options.ca_bundle:
        try:
            ssl_context(TlsOptions(options.client_cert, options.client_key, options.ca_bundle))
        except (ValueError, OSError) as err:  # ssl.SSLError is an OSError
            return _bad_request(
                f"The TLS material cannot be used: {err}.",
                [{"field": "client_cert/client_key/ca_bundle", "message": str(err)}],
            )

    now = services.clock()
    # Counted once the run is known to be sendable, before anything is stored or queued.
    outbound_limits.admit(services.counter, organisation, OutboundKind.RECEIVER_RUN, services.settings, now)
    record = RunRecord(
        run_id=str(uuid.uuid4()),
        status="queued",
        organisation=organisation,
        endpoint=options.endpoint,
        target_identifier=options.target_identifier,
        tests=[t.id for t in tests],
        application=options.application,
        suites=list(options.suites or []),
        headers=redact(options.headers),
        mutual_tls=bool(options.client_cert),
        created_at=services.iso(now),
        summary=RunSummary(total=len(tests), pending=len(tests)),
        suite_version=services.suite.version,
    )
    expires_at = int(now) + services.retention_seconds
    services.store.create(record, options, expires_at)
    try:
        services.queue.enqueue(record.run_id)
    except Exception:
        logger.exception("Queueing a receiver run failed", extra={"run_id": record.run_id})
        failed = record.model_copy(update={"status": "error", "reason": "the run could not be queued"})
        services.store.update(failed, expires_at)
        return _json(
            503, {"error": "unavailable", "message": "The run could not be queued; try again.", "run_id": record.run_id}
        )
    location = f"/tkw/receiver-runs/{record.run_id}"
    logger.info("Receiver run queued", extra={"run_id": record.run_id, "tests": len(tests)})
    return _json(
        202,
        {"run_id": record.run_id, "status": record.status, "tests": record.tests, "links": {"self": location}},
        {"Location": location},
    )


def _run_id(raw: str) -> str | None:
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        return None


def run_view(record: RunRecord, results: list[TestResult], services: ReceiverServices) -> dict[str, Any]:
    by_id = {r.test_id: r for r in results}
    shown: list[dict[str, Any]] = []
    for test_id in record.tests:
        if test_id in by_id:
            shown.append(by_id[test_id].summary().model_dump(exclude={"request", "response"}))
        else:
            test = services.suite.test(test_id) if test_id in services.suite.ids else None
            shown.append(
                {
                    "test_id": test_id,
                    "name": test.name if test else test_id,
                    "group": test.group if test else "",
                    "application": test.application if test else "",
                    "suite": test.suite if test else "",
                    "status": "pending",
                    "checks": [],
                }
            )
    view = record.model_dump()
    if record.status not in FINISHED:
        view["summary"] = RunSummary.of(
            [by_id.get(t) or TestResult(test_id=t, name=t, group="", status="pending") for t in record.tests]
        ).model_dump()
    view["results"] = shown
    links: dict[str, str] = {}
    if record.status in FINISHED and record.finished_at and any(r.status != "pending" for r in results):
        links = services.reports.links(record.run_id, run_reports.FILES, services.settings.report_link_expiry_seconds)
    view["links"] = links
    return view


def get_run(request: ApiRequest, caller: Caller, run_id: str, services: ReceiverServices | None = None) -> ApiResponse:
    """``GET /tkw/receiver-runs/{run_id}``: status, per-test results so far, report links when done."""
    services = services or get_receiver_services()
    normal = _run_id(run_id)
    if normal is None:
        return _bad_request(f"{run_id!r} is not a run id (a UUID).", [{"field": "run_id", "message": "not a UUID"}])
    missing = _not_found(f"No receiver run {normal} (runs are kept {services.settings.report_retention_days} days).")
    try:
        organisation = _organisation(request, caller)
    except BarsError as err:
        if err.status == 404:  # an organisation the caller is not bound to: as if the run did not exist
            return missing
        raise
    found = services.store.get(normal, services.clock())
    # Another organisation's run is "not found", never "forbidden": its existence is not confirmed.
    if found is None or found[0].organisation != organisation:
        return missing
    record, results = found
    return _json(200, run_view(record, results, services))


def list_runs(request: ApiRequest, caller: Caller, services: ReceiverServices | None = None) -> ApiResponse:
    """``GET /tkw/receiver-runs[?limit=n]``: recent runs, newest first."""
    services = services or get_receiver_services()
    raw = request.param("limit") or "20"
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        return _bad_request("limit must be a whole number from 1 to 100.", [{"field": "limit", "message": "1..100"}])
    runs = services.store.recent(_organisation(request, caller), int(raw), services.clock())
    return _json(
        200,
        {
            "runs": [
                r.model_dump(
                    include={
                        "run_id",
                        "status",
                        "endpoint",
                        "target_identifier",
                        "application",
                        "suites",
                        "created_at",
                        "finished_at",
                        "reason",
                        "summary",
                    }
                )
                for r in runs
            ]
        },
    )


def describe_suite(request: ApiRequest | None = None, services: ReceiverServices | None = None) -> ApiResponse:
    """``GET /tkw/receiver-suite[?application=5][&suite=error]``: the tests a run can select, for a UI."""
    suite = services.suite if services else load_suite()
    application = request.param("application") if request else None
    kind = request.param("suite") if request else None
    if application is not None and application not in APPLICATION_IDS:
        return _bad_request(
            f"application must be one of {', '.join(APPLICATION_IDS)}.",
            [{"field": "application", "message": "unknown Application"}],
        )
    if kind is not None and kind not in SUITE_KINDS:
        return _bad_request("suite must be happy or error.", [{"field": "suite", "message": "happy or error"}])
    return _json(200, suite_description(suite, application, kind))


def suite_description(suite: Suite, application: str | None = None, kind: str | None = None) -> dict[str, Any]:
    chosen = [
        t for t in suite.tests if (application is None or t.application == application) and kind in (None, t.suite)
    ]
    return {
        "name": suite.name,
        "version": suite.version,
        "applications": [
            {
                "id": a.id,
                "name": a.name,
                "roles": a.roles,
                "use_case": a.use_case,
                "description": a.description,
                "suites": {
                    k: sum(1 for t in suite.tests if t.application == a.id and t.suite == k) for k in SUITE_KINDS
                },
            }
            for a in suite.applications
            if application is None or a.id == application
        ],
        "tests": [
            {
                "id": t.id,
                "name": t.name,
                "application": t.application,
                "suite": t.suite,
                "group": t.group,
                "description": t.description,
                "depends_on": t.depends_on,
                "request": f"{t.request.method} {t.request.path}",
                "expected_status": t.expect.status,
                "expected_bars_code": t.expect.bars_code,
            }
            for t in chosen
        ],
    }


# -- worker ---------------------------------------------------------------------------------------


def execute_run(run_id: str, services: ReceiverServices | None = None) -> RunRecord | None:
    """Run a queued run to the end. Returns the finished record, or None when there was nothing to do.

    Idempotent: a run is claimed (queued → running) with a conditional write, so a redelivered
    message for a run already done does nothing. A message for a run another worker is running
    raises :class:`RunInProgress`, so SQS tries it again later: if that worker died, the run has gone
    stale by then and this worker takes it over.
    """
    services = services or get_receiver_services()
    now = services.clock()
    record = services.store.claim(run_id, services.iso(now), services.iso(now - STALE_RUN_SECONDS), now)
    if record is None:
        if services.store.status(run_id, now) == "running":
            # Another worker has it (or had it, until it goes stale): let SQS redeliver later.
            raise RunInProgress(run_id)
        logger.info("Receiver run not claimable (unknown, expired or already done)", extra={"run_id": run_id})
        return None
    expires_at = int(now) + services.retention_seconds
    options = services.store.options(run_id, now)
    results: list[TestResult] = []
    status: RunStatus
    reason: str | None
    if options is None:
        status, reason = "error", "the run's options have expired or are missing"
    else:
        status, reason, results = _run(record, options, services, expires_at)
    finished = record.model_copy(
        update={
            "status": status,
            "reason": reason,
            "finished_at": services.iso(),
            "summary": RunSummary.of(results) if results else RunSummary(total=len(record.tests)),
        }
    )
    if results:
        files = run_reports.render_all(RunReport(run=finished, suite=services.suite.name, results=results))
        services.reports.put(run_id, files)
    services.store.update(finished, expires_at)
    services.store.forget_options(run_id)  # client keys and secret headers are not kept
    logger.info("Receiver run finished", extra={"run_id": run_id, "status": status, "reason": reason})
    return finished


def _run(
    record: RunRecord, options: RunOptions, services: ReceiverServices, expires_at: int
) -> tuple[RunStatus, str | None, list[TestResult]]:
    def progress(result: TestResult) -> None:
        services.store.put_result(record.run_id, result.summary(), expires_at)

    config = RunConfig(
        endpoint=options.endpoint,
        target=options.target_identifier,
        target_system=options.target_system,
        tests=record.tests,
        headers=options.headers,
    )
    try:
        transport = services.transport(options, services.guard)
        outcome = SuiteRun(config, transport, suite=services.suite, on_result=progress).run()
    except Exception as err:
        logger.exception("Receiver run failed unexpectedly", extra={"run_id": record.run_id})
        return "error", f"the run failed unexpectedly ({type(err).__name__}: {err})", []
    return outcome.status, outcome.reason, outcome.results


def handle_message(body: str, services: ReceiverServices | None = None) -> RunRecord | None:
    """One SQS message: ``{"run_id": "..."}``. Returns the finished run, if this call ran it."""
    try:
        run_id = _run_id(str(json.loads(body)["run_id"]))
    except (ValueError, KeyError, TypeError):
        run_id = None
    if run_id is None:
        # Retrying cannot fix a malformed message: log it and let it go.
        logger.error("Malformed receiver-run message", extra={"body": body[:200]})
        return None
    return execute_run(run_id, services)
