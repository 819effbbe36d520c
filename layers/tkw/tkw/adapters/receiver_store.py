"""AWS adapters of receiver runs: DynamoDB (runs, results), SQS (the run queue), S3 (reports).

Items in the one table (pk/sk, TTL attribute ``expires_at``):

* ``pk=RUN#{run_id}``, ``sk=RUN``: the run record (JSON in ``data``), with ``status`` and
  ``started_at`` as attributes so the worker can claim it with a conditional update;
* ``pk=RUN#{run_id}``, ``sk=OPTIONS``: what the worker needs and nobody may read back (client
  key, certificates, secret header values); deleted when the run finishes;
* ``pk=RUN#{run_id}``, ``sk=RESULT#{test_id}``: one test's result, written as it completes;
* ``pk=RECEIVER-RUNS#{ods}``, ``sk={created_at}#{run_id}``: the index behind "recent runs, newest first".

DynamoDB deletes expired items lazily, so every read also treats ``expires_at <= now`` as absent.
Reports go to ``s3://{bucket}/receiver-runs/{run_id}/`` and are shared through presigned GET links.
"""

from __future__ import annotations

import json
import math
from typing import Any

from tkw.adapters.aws import DynamoTable
from tkw.receiver.models import RunOptions, RunRecord, RunStatus, TestResult
from tkw.receiver.run_reports import CONTENT_TYPES

RUN_PK = "RUN#{run_id}"
RUN_SK = "RUN"
OPTIONS_SK = "OPTIONS"
RESULT_SK = "RESULT#{test_id}"
INDEX_PK = "RECEIVER-RUNS#{ods}"
REPORT_PREFIX = "receiver-runs/{run_id}/"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int | float) -> dict[str, str]:
    return {"N": str(math.floor(value))}


def _live(item: dict[str, Any], now: float) -> bool:
    expires = item.get("expires_at", {}).get("N")
    return expires is None or int(expires) > now


class DynamoRunStore(DynamoTable):
    @staticmethod
    def _key(run_id: str, sk: str) -> dict[str, dict[str, str]]:
        return {"pk": _s(RUN_PK.format(run_id=run_id)), "sk": _s(sk)}

    def _put_record(self, record: RunRecord, expires_at: int) -> None:
        data = record.model_dump_json()
        item = {
            **self._key(record.run_id, RUN_SK),
            "data": _s(data),
            "status": _s(record.status),
            "expires_at": _n(expires_at),
        }
        if record.started_at:
            item["started_at"] = _s(record.started_at)
        self.client.put_item(TableName=self.table_name, Item=item)
        self.client.put_item(
            TableName=self.table_name,
            Item={
                "pk": _s(INDEX_PK.format(ods=record.organisation)),
                "sk": _s(f"{record.created_at}#{record.run_id}"),
                "data": _s(data),
                "expires_at": _n(expires_at),
            },
        )

    def create(self, record: RunRecord, options: RunOptions, expires_at: int) -> None:
        # Options first: a run visible in the index always has what the worker needs.
        self.client.put_item(
            TableName=self.table_name,
            Item={
                **self._key(record.run_id, OPTIONS_SK),
                "data": _s(options.model_dump_json()),
                "expires_at": _n(expires_at),
            },
        )
        self._put_record(record, expires_at)

    def get(self, run_id: str, now: float) -> tuple[RunRecord, list[TestResult]] | None:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(RUN_PK.format(run_id=run_id))},
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        record: RunRecord | None = None
        results: list[TestResult] = []
        for item in items:
            if not _live(item, now):
                continue
            sk = item["sk"]["S"]
            if sk == RUN_SK:
                record = RunRecord.model_validate_json(item["data"]["S"])
            elif sk.startswith("RESULT#"):
                results.append(TestResult.model_validate_json(item["data"]["S"]))
        return None if record is None else (record, results)

    def options(self, run_id: str, now: float) -> RunOptions | None:
        item = self.client.get_item(
            TableName=self.table_name, Key=self._key(run_id, OPTIONS_SK), ConsistentRead=True
        ).get("Item")
        if item is None or not _live(item, now):
            return None
        return RunOptions.model_validate_json(item["data"]["S"])

    def claim(self, run_id: str, started_at: str, stale_before: str, now: float) -> RunRecord | None:
        """queued → running (or a running run whose worker died), atomically; None if not claimable."""
        try:
            got = self.client.update_item(
                TableName=self.table_name,
                Key=self._key(run_id, RUN_SK),
                UpdateExpression="SET #status = :running, started_at = :started",
                ConditionExpression=(
                    "expires_at > :now AND (#status = :queued OR (#status = :running AND started_at < :stale))"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":running": _s("running"),
                    ":queued": _s("queued"),
                    ":started": _s(started_at),
                    ":stale": _s(stale_before),
                    ":now": _n(now),
                },
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        item = got["Attributes"]
        record = RunRecord.model_validate_json(item["data"]["S"]).model_copy(
            update={"status": "running", "started_at": started_at}
        )
        self._put_record(record, int(item["expires_at"]["N"]))
        return record

    def status(self, run_id: str, now: float) -> RunStatus | None:
        item = self.client.get_item(
            TableName=self.table_name,
            Key=self._key(run_id, RUN_SK),
            ConsistentRead=True,
            ProjectionExpression="#status, expires_at",
            ExpressionAttributeNames={"#status": "status"},
        ).get("Item")
        if item is None or not _live(item, now):
            return None
        status: RunStatus = item["status"]["S"]
        return status

    def put_result(self, run_id: str, result: TestResult, expires_at: int) -> None:
        self.client.put_item(
            TableName=self.table_name,
            Item={
                **self._key(run_id, RESULT_SK.format(test_id=result.test_id)),
                "data": _s(result.model_dump_json()),
                "expires_at": _n(expires_at),
            },
        )

    def update(self, record: RunRecord, expires_at: int) -> None:
        self._put_record(record, expires_at)

    def forget_options(self, run_id: str) -> None:
        self.client.delete_item(TableName=self.table_name, Key=self._key(run_id, OPTIONS_SK))

    def recent(self, organisation: str, limit: int, now: float) -> list[RunRecord]:
        page = self.client.query(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _s(INDEX_PK.format(ods=organisation))},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [RunRecord.model_validate_json(i["data"]["S"]) for i in page.get("Items", []) if _live(i, now)]


class SqsRunQueue:
    def __init__(self, queue_url: str, client: Any | None = None) -> None:
        self.queue_url = queue_url
        self._client = client

    def enqueue(self, run_id: str) -> None:
        if not self.queue_url:
            raise RuntimeError("RECEIVER_RUNS_QUEUE_URL is not set")
        from tkw.adapters.aws import client

        (self._client or client("sqs")).send_message(
            QueueUrl=self.queue_url, MessageBody=json.dumps({"run_id": run_id})
        )


class S3RunReportStore:
    def __init__(self, bucket: str, client: Any | None = None) -> None:
        self.bucket = bucket
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is not None:
            return self._client
        from tkw.adapters.aws import client

        return client("s3")

    def put(self, run_id: str, files: dict[str, bytes]) -> None:
        prefix = REPORT_PREFIX.format(run_id=run_id)
        for name, data in files.items():
            self.client.put_object(
                Bucket=self.bucket,
                Key=prefix + name,
                Body=data,
                ContentType=CONTENT_TYPES.get(name, "application/octet-stream"),
            )

    def links(self, run_id: str, files: dict[str, str], expires_in: int) -> dict[str, str]:
        prefix = REPORT_PREFIX.format(run_id=run_id)
        links: dict[str, str] = {}
        for label, name in files.items():
            params = {"Bucket": self.bucket, "Key": prefix + name}
            if name.endswith(".zip"):
                params["ResponseContentDisposition"] = f'attachment; filename="tkw-receiver-run-{run_id}.zip"'
            links[label] = self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
        return links
