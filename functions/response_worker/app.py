"""SQS consumer: sends each queued response to the sender's endpoint, judges its answer, reports it."""

from tkw import init_phase  # first: Powertools and the domain import with the collector off

# isort: split
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from tkw.observability import make_tracer
from tkw.outbound import service

logger = Logger()
tracer = make_tracer()  # a no-op one where no X-Ray daemon collects traces
metrics = Metrics()
# A message whose handler raises (AWS failed) is a batch item failure: SQS redelivers it; the step's
# claim makes sure a response that was already sent is not sent again.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@tracer.capture_method
def send_message(record: SQSRecord) -> None:
    link = service.handle_message(record.body)
    if link is not None:
        name = "".join(part.capitalize() for part in link.status.split("-"))
        metrics.add_metric(name=f"Responses{name}", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return process_partial_response(event=event, record_handler=send_message, processor=processor, context=context)


init_phase.end()
