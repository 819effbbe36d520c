"""SQS consumer: produces the validation reports of BaRS exchanges (one message per report job).

The request path hands each exchange over in one ``SendMessage`` (``tkw.reports.handoff``); this
function runs every check, builds the records and stores a batch of them at once. A job that fails
is reported as a batch item failure: SQS redelivers it (writes are keyed by report id, so a retry
rewrites the same items), and after maxReceiveCount it moves to the dead-letter queue.
"""

from tkw import init_phase  # first: Powertools and the domain import with the collector off

# isort: split
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import SQSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from tkw.observability import make_tracer
from tkw.reports.job import ReportJob
from tkw.reports.production import produce_reports
from tkw.services import get_services

logger = Logger()
tracer = make_tracer()  # a no-op one where no X-Ray daemon collects traces
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@event_source(data_class=SQSEvent)
def handler(event: SQSEvent, context: LambdaContext) -> dict[str, Any]:
    # The whole batch at once (not record by record): its index items go out in a few BatchWriteItem calls.
    failures: list[dict[str, str]] = []
    jobs: dict[str, ReportJob] = {}
    for record in event.records:
        try:
            jobs[record.message_id] = ReportJob.from_message(record.body)
        except (ValueError, KeyError, TypeError):
            logger.exception("Unreadable report job", extra={"message_id": record.message_id})
            failures.append({"itemIdentifier": record.message_id})  # to the dead-letter queue in time
    failed = set(produce_reports(list(jobs.values()), get_services().reports))
    failures += [{"itemIdentifier": mid} for mid, job in jobs.items() if job.report_id in failed]
    metrics.add_metric(name="ReportsProduced", unit=MetricUnit.Count, value=len(jobs) - len(failed))
    if failed:
        metrics.add_metric(name="ReportsFailed", unit=MetricUnit.Count, value=len(failed))
    return {"batchItemFailures": failures}


init_phase.end()
