"""The report worker in process: booking reports per second, without wrk (information).

With reports on, sustained booking ``$process-message`` throughput is the report worker's: the API
process hands each report job to the worker process, whose backlog makes senders wait once it
falls behind. This measures that worker on its own, the way the local runner runs it: booking
requests as ``make bench`` sends them (the booking fixture, a fresh ``X-Request-Id`` each) go
through the booking handler, which hands its report jobs over; the jobs then go, as SQS-shaped
batches of up to 100, through ``ReportWorkerFunction`` against in-process moto (DynamoDB serialised
as the local runner does it).

``python bench/report_worker.py [N] [--profile] [--json]``: N reports (default 2,000); ``--profile``
prints the functions taking the most time (cProfile); ``--json`` prints the figures as JSON (``make
bench`` runs it so, in a fresh interpreter). Compare CPU ms a report on a shared machine.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "tkw"), str(ROOT / "tests"), str(ROOT / "bench")]

from run import LAMBDA_ENV, profiled  # noqa: E402 - bench/run.py: the environment the functions run with

BASE = "/booking-and-referral/FHIR/R4"
WORKER_FUNCTION = "ReportWorkerFunction"
BATCH_SIZE = 100  # as the local runner's worker and the template's SQS event source


class CollectingHandoff:
    """The request path's handoff, keeping each job's message (what the worker process is sent)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def submit(self, job: Any) -> None:
        self.messages.append((job.report_id, job.to_message()))

    def wait_for(self, report_id: str, timeout: float) -> bool:
        return True

    def settle(self, timeout: float) -> None:
        return None


def booking_events(count: int) -> list[dict[str, Any]]:
    """``count`` booking requests as ``make bench`` sends them: a fresh X-Request-Id each."""
    from bars_support import bars_headers

    from tkw_local.functions import rest_proxy_event

    body = (ROOT / "tests" / "fixtures" / "booking-request.json").read_bytes()
    fixed = {k: v for k, v in bars_headers().items() if k != "X-Request-Id"}
    fixed["Content-Type"] = "application/fhir+json"
    fixed["Host"] = "127.0.0.1:3000"
    return [
        rest_proxy_event(
            method="POST",
            path=BASE + "/$process-message",
            resource=BASE + "/$process-message",
            path_parameters={},
            headers=[*fixed.items(), ("X-Request-Id", str(uuid.uuid4()))],
            query=[],
            body=body,
            stage="local",
            source_ip="127.0.0.1",
        )
        for _ in range(count)
    ]


def measure(count: int, profile: bool = False) -> dict[str, Any]:
    """Booking reports/s and ms per report of the report worker function (after a warm-up batch)."""
    os.environ.update(LAMBDA_ENV)
    with contextlib.redirect_stdout(io.StringIO()) as out, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Powertools' empty-metrics warning, EMF lines: noise here
        result = _measure(count, profile)
    if profile:
        print(out.getvalue().split("\n{", 1)[0][-20000:])  # the profile (EMF metric lines left out)
    return result


def _measure(count: int, profile: bool) -> dict[str, Any]:
    from moto import mock_aws

    from tkw.reports.handoff import use_host_handoff
    from tkw_local.backend import Resolver, create_resources, parameters_from_env, serialise_dynamodb
    from tkw_local.functions import load_function, sqs_event
    from tkw_local.template import Template

    template = Template.read(ROOT / "template.yaml")
    booking_spec = next(f for f in template.functions() if any(r.path == BASE + "/$process-message" for r in f.routes))
    worker_spec = next(f for f in template.functions() if f.logical_id == WORKER_FUNCTION)
    with mock_aws():
        serialise_dynamodb()  # as the local runner's embedded AWS
        resolver = create_resources(template, Resolver(parameters=parameters_from_env(template, {})))
        for spec in (booking_spec, worker_spec):
            for name, value in spec.environment.items():
                os.environ[name] = str(resolver.resolve(value))
        os.environ.update(LAMBDA_ENV)
        os.environ["REPORTS_ENABLED"] = "true"  # whatever the caller's environment says: reports are measured
        handoff = CollectingHandoff()
        use_host_handoff(handoff)
        booking = load_function(template.root, booking_spec)
        worker = load_function(template.root, worker_spec)
        for event in booking_events(BATCH_SIZE + count):
            answer = booking.invoke(event)
            if answer["statusCode"] != 200:
                raise RuntimeError(f"the booking answered {answer['statusCode']}: {answer['body'][:500]}")
        use_host_handoff(None)
        batches = [handoff.messages[i : i + BATCH_SIZE] for i in range(0, len(handoff.messages), BATCH_SIZE)]
        arn = f"arn:aws:sqs:eu-west-2:123456789012:{WORKER_FUNCTION}"
        events = [
            sqs_event([{"MessageId": rid, "ReceiptHandle": rid, "Body": body} for rid, body in batch], arn)
            for batch in batches
        ]
        if len(handoff.messages) != BATCH_SIZE + count:
            raise RuntimeError(f"the booking handed over {len(handoff.messages)} report jobs, not {BATCH_SIZE + count}")
        _check(worker.invoke(events[0]))  # warm-up: first use of the clients, the profiles, the memos
        with profiled(profile):
            started, cpu_started = time.perf_counter(), time.process_time()
            for event in events[1:]:
                _check(worker.invoke(event))
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "reports": count,
        "batch_size": BATCH_SIZE,
        "reports_per_s": round(count / elapsed, 1),
        "ms_per_report": round(elapsed * 1000 / count, 3),
        # CPU time: the figure to compare on a shared machine (wall time includes other processes' turns)
        "cpu_ms_per_report": round(cpu * 1000 / count, 3),
    }


def _check(result: dict[str, Any]) -> None:
    if result.get("batchItemFailures"):
        raise RuntimeError(f"the report worker failed jobs: {result['batchItemFailures'][:5]}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    figures = measure(int(args[0]) if args else 2000, profile="--profile" in sys.argv)
    if "--json" in sys.argv:  # for bench/run.py
        print(json.dumps(figures))
        raise SystemExit(0)
    print(
        f"report worker, booking reports: {figures['reports_per_s']:,.0f} reports/s, "
        f"{figures['ms_per_report']:.2f} ms a report ({figures['cpu_ms_per_report']:.2f} ms CPU; "
        f"{figures['reports']:,} in batches of {figures['batch_size']})"
    )
