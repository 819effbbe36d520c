"""SQS consumer: runs each queued receiver run (one message per run) and writes its reports."""

from tkw import init_phase  # first: Powertools and the domain import with the collector off

# isort: split
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from tkw.observability import make_tracer
from tkw.receiver import service

logger = Logger()
tracer = make_tracer()  # a no-op one where no X-Ray daemon collects traces
metrics = Metrics()
# A message whose handler raises (its run is in progress elsewhere, or AWS failed) is reported as a
# batch item failure: SQS redelivers it, and after maxReceiveCount moves it to the dead-letter queue.
# Even when every message of the batch fails, answer with the list rather than raising: the event
# source mapping (ReportBatchItemFailures) retries exactly those.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@tracer.capture_method
def run_message(record: SQSRecord) -> None:
    finished = service.handle_message(record.body)
    if finished is not None:
        metrics.add_metric(name=f"ReceiverRuns{finished.status.capitalize()}", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return process_partial_response(event=event, record_handler=run_message, processor=processor, context=context)


init_phase.end()
