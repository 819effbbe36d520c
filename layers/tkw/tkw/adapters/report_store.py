"""S3 + DynamoDB implementation of :class:`tkw.reports.store.ReportStore`.

S3 (the private reports bucket):

* ``reports/{ods}/{yyyy}/{mm}/{dd}/{id}.json`` the record, ``.html`` its rendering;
* ``zips/{ods}/{zip id}.zip`` packaged downloads. The bucket's lifecycle rule expires both.

DynamoDB (the one table; ``expires_at`` is the TTL attribute, and every read also treats
``expires_at <= now`` as gone because TTL deletion is lazy):

* listing: ``pk=REPORTS#{ods}``, ``sk={UTC time}#{id}`` with organisation, time, verdict,
  correlation_id, scenario, s3_key and the other summary fields;
* lookup by id: ``pk=REPORT#{ods}#{id}``, ``sk=REPORT`` with the S3 keys (scoped to the ODS code, so
  another organisation's id is simply not found);
* duplicate X-Request-Id: ``pk=REQID#{ods}``, ``sk={x-request-id}``, written with a conditional put.

boto3 clients are created on first use, never at import, so ``mock_aws`` and ``AWS_ENDPOINT_URL``
(or the template's ``TKW_AWS_ENDPOINT_URL``) apply.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from tkw.reports.model import ReportRecord
from tkw.reports.package import build_zip
from tkw.reports.store import (
    MAX_ZIP_REPORTS,
    REQUEST_ID_MEMORY_SECONDS,
    ReportFormat,
    ReportPage,
    ReportQuery,
    ReportSummary,
    ZipPackage,
    check_key_part,
    decode_page_token,
    encode_page_token,
    matches,
    report_key,
    summary_of,
    time_bounds,
    zip_key,
)
from tkw.settings import Settings

LIST_PK = "REPORTS#{ods}"
ID_PK = "REPORT#{ods}#{id}"
ID_SK = "REPORT"
REQUEST_ID_PK = "REQID#{ods}"
DEFAULT_RETENTION_DAYS = 30
MAX_LINK_EXPIRY_SECONDS = 900
# A listing reads at most this many DynamoDB pages before handing back a token (filters may skip
# most items; a request must stay well inside API Gateway's 29 s).
MAX_QUERY_PAGES = 10
_CONTENT_TYPES: dict[str, str] = {"json": "application/json", "html": "text/html; charset=utf-8"}

_GONE = frozenset({"NoSuchKey", "404", "AccessDenied", "403"})
_SUMMARY_ATTRIBUTES = (
    "method",
    "path",
    "operation",
    "target",
    "scenario",
    "correlation_id",
    "request_id",
    "direction",
    "trigger_report_id",
)


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _request_id_sort_key(request_id: str) -> str:
    # Sort keys are capped at 1 KB; a sender controls this header, so long values are hashed.
    return request_id if len(request_id) <= 200 else "sha256:" + hashlib.sha256(request_id.encode()).hexdigest()


class S3ReportStore:
    def __init__(
        self,
        table_name: str,
        bucket: str,
        *,
        link_expiry_seconds: int = MAX_LINK_EXPIRY_SECONDS,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        dynamodb: Any | None = None,
        s3: Any | None = None,
    ) -> None:
        self.table_name = table_name
        self.bucket = bucket
        self._link_expiry_seconds = max(1, min(MAX_LINK_EXPIRY_SECONDS, int(link_expiry_seconds)))
        self.retention_seconds = retention_days * 86400
        self._dynamodb = dynamodb
        self._s3 = s3
        self._lock = threading.Lock()

    @property
    def link_expiry_seconds(self) -> int:
        return self._link_expiry_seconds

    # -- clients ------------------------------------------------------------------------------

    @property
    def dynamodb(self) -> Any:
        if self._dynamodb is None:
            from tkw.adapters.aws import client

            return client("dynamodb")
        return self._dynamodb

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            with self._lock:
                if self._s3 is None:
                    self._s3 = _s3_client()
        return self._s3

    # -- ReportStore ----------------------------------------------------------------------------

    def claim_request_id(self, ods: str, request_id: str, now: float) -> bool:
        if not request_id:
            return False
        client = self.dynamodb
        try:
            client.put_item(
                TableName=self.table_name,
                Item={
                    "pk": _s(REQUEST_ID_PK.format(ods=check_key_part(ods, "organisation"))),
                    "sk": _s(_request_id_sort_key(request_id)),
                    "expires_at": _n(math.floor(now) + REQUEST_ID_MEMORY_SECONDS),
                },
                # A lapsed item TTL has not deleted yet counts as absent.
                ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now",
                ExpressionAttributeValues={":now": _n(math.floor(now))},
            )
        except client.exceptions.ConditionalCheckFailedException:
            return True
        return False

    def save(self, record: ReportRecord, html: str) -> None:
        ods = check_key_part(record.organisation, "organisation")
        check_key_part(record.id, "report id")
        json_key = report_key(ods, record.id, record.time, "json")
        html_key = report_key(ods, record.id, record.time, "html")
        expires_at = math.floor(record.time.timestamp()) + self.retention_seconds
        summary = summary_of(record)
        list_item: dict[str, Any] = {
            "pk": _s(LIST_PK.format(ods=ods)),
            "sk": _s(f"{summary.time}#{record.id}"),
            "report_id": _s(record.id),
            "organisation": _s(ods),
            "time": _s(summary.time),
            "verdict": _s(record.verdict),
            "errors": _n(summary.errors),
            "warnings": _n(summary.warnings),
            "s3_key": _s(json_key),
            "expires_at": _n(expires_at),
        }
        if summary.status is not None:
            list_item["status"] = _n(summary.status)
        for name in _SUMMARY_ATTRIBUTES:
            value = getattr(summary, name)
            if value:
                list_item[name] = _s(str(value))
        id_item = {
            "pk": _s(ID_PK.format(ods=ods, id=record.id)),
            "sk": _s(ID_SK),
            "time": _s(summary.time),
            "s3_key": _s(json_key),
            "html_key": _s(html_key),
            "expires_at": _n(expires_at),
        }
        # The objects first: an index entry must never point at a report that is not there.
        pool = _pool()
        puts = [
            pool.submit(self._put, json_key, record.to_json().encode(), "json"),
            pool.submit(self._put, html_key, html.encode(), "html"),
        ]
        for put in puts:
            put.result()
        self.dynamodb.batch_write_item(
            RequestItems={self.table_name: [{"PutRequest": {"Item": list_item}}, {"PutRequest": {"Item": id_item}}]}
        )

    def list_reports(self, ods: str, query: ReportQuery, now: float) -> ReportPage:
        check_key_part(ods, "organisation")
        low, high = time_bounds(query)
        after = decode_page_token(query.page_token, ods)
        filters = ["expires_at > :now"]
        values: dict[str, Any] = {
            ":pk": _s(LIST_PK.format(ods=ods)),
            ":low": _s(low),
            ":high": _s(high),
            ":now": _n(math.floor(now)),
        }
        names: dict[str, str] = {}
        if query.verdict is not None:
            filters.append("#verdict = :verdict")
            names["#verdict"] = "verdict"
            values[":verdict"] = _s(query.verdict)
        if query.correlation_id is not None:
            filters.append("correlation_id = :correlation")
            values[":correlation"] = _s(query.correlation_id)
        if query.direction is not None:
            # Items written before outbound reports existed have no direction: they are inbound.
            absent = "attribute_not_exists(#direction) OR " if query.direction == "inbound" else ""
            filters.append(f"({absent}#direction = :direction)")
            names["#direction"] = "direction"
            values[":direction"] = _s(query.direction)
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "FilterExpression": " AND ".join(filters),
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,  # newest first
        }
        if names:
            request["ExpressionAttributeNames"] = names
        start_key = {"pk": values[":pk"], "sk": _s(after)} if after else None
        reports: list[ReportSummary] = []
        last_sort_key: str | None = None
        for _ in range(MAX_QUERY_PAGES):
            request["Limit"] = query.limit - len(reports)
            if start_key is not None:
                request["ExclusiveStartKey"] = start_key
            response = self.dynamodb.query(**request)
            for item in response.get("Items", []):
                summary = _summary_from_item(item)
                if summary is not None and matches(summary, query):
                    reports.append(summary)
            start_key = response.get("LastEvaluatedKey")
            if start_key is not None:
                last_sort_key = start_key["sk"]["S"]
            if start_key is None or len(reports) >= query.limit:
                break
        token = encode_page_token(last_sort_key, ods) if start_key is not None and last_sort_key else None
        return ReportPage(reports=reports, next_page_token=token)

    def get(self, ods: str, report_id: str, now: float) -> ReportRecord | None:
        keys = self._keys(ods, report_id, now)
        if keys is None:
            return None
        from botocore.exceptions import ClientError

        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=keys["json"])["Body"].read()
        except ClientError as err:
            # Expired by the bucket's lifecycle before its index item. Without s3:ListBucket a
            # missing key answers AccessDenied rather than NoSuchKey.
            if err.response.get("Error", {}).get("Code") in _GONE:
                return None
            raise
        record = ReportRecord.from_json(body)
        return record if record.organisation == ods else None

    def link(self, ods: str, report_id: str, fmt: ReportFormat, now: float) -> str | None:
        keys = self._keys(ods, report_id, now)
        if keys is None:
            return None
        return self._presign(keys[fmt], _CONTENT_TYPES[fmt], f"tkw-report-{report_id}.{fmt}")

    def package(self, ods: str, report_ids: Sequence[str], now: float) -> ZipPackage | None:
        check_key_part(ods, "organisation")
        wanted = list(dict.fromkeys(report_ids))[:MAX_ZIP_REPORTS]
        records = [r for r in _pool().map(lambda i: self._get_or_none(ods, i, now), wanted) if r is not None]
        if not records:
            return None
        records.sort(key=lambda r: r.time, reverse=True)
        zip_id = str(uuid.uuid4())
        key = zip_key(ods, zip_id)
        self._put(key, build_zip(records), "zip")
        day = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d-%H%M%S")
        found = {r.id for r in records}
        return ZipPackage(
            id=zip_id,
            key=key,
            url=self._presign(key, "application/zip", f"tkw-reports-{ods}-{day}.zip"),
            expires_in=self.link_expiry_seconds,
            report_ids=[r.id for r in records],
            not_found=[i for i in wanted if i not in found],
        )

    # -- internals ------------------------------------------------------------------------------

    def _get_or_none(self, ods: str, report_id: str, now: float) -> ReportRecord | None:
        try:
            check_key_part(report_id, "report id")
        except ValueError:
            return None
        return self.get(ods, report_id, now)

    def _keys(self, ods: str, report_id: str, now: float) -> dict[str, str] | None:
        check_key_part(ods, "organisation")
        try:
            check_key_part(report_id, "report id")
        except ValueError:
            return None  # no report can have such an id
        item = self.dynamodb.get_item(
            TableName=self.table_name, Key={"pk": _s(ID_PK.format(ods=ods, id=report_id)), "sk": _s(ID_SK)}
        ).get("Item")
        if item is None or int(item.get("expires_at", {}).get("N", "0")) <= now:
            return None
        try:
            return {"json": item["s3_key"]["S"], "html": item["html_key"]["S"]}
        except KeyError:
            return None

    def _put(self, key: str, data: bytes, fmt: str) -> None:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=_CONTENT_TYPES.get(fmt, "application/zip"),
            CacheControl="private, no-store",
        )

    def _presign(self, key: str, content_type: str, filename: str) -> str:
        url: str = self.s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentType": content_type,
                "ResponseContentDisposition": f'attachment; filename="{filename}"',
            },
            ExpiresIn=self.link_expiry_seconds,
        )
        return url


def _summary_from_item(item: dict[str, Any]) -> ReportSummary | None:
    try:
        fields: dict[str, Any] = {
            "id": item["report_id"]["S"],
            "time": item["time"]["S"],
            "organisation": item["organisation"]["S"],
            "verdict": item["verdict"]["S"],
            "errors": int(item.get("errors", {}).get("N", "0")),
            "warnings": int(item.get("warnings", {}).get("N", "0")),
        }
        if "status" in item:
            fields["status"] = int(item["status"]["N"])
        for name in _SUMMARY_ATTRIBUTES:
            if name in item:
                fields[name] = item[name]["S"]
        return ReportSummary.model_validate(fields)
    except (KeyError, ValueError):  # not an item this adapter wrote
        return None


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """A small shared pool: S3 calls of one save or one zip run side by side."""
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="tkw-reports")
    return _executor


def _s3_client() -> Any:
    """An S3 client that presigns SigV4 URLs a browser can fetch.

    Deployed, it uses the regional virtual-hosted endpoint (a bucket outside us-east-1 is not
    reachable through the global endpoint for a while after creation). With ``TKW_AWS_ENDPOINT_URL``
    or ``AWS_ENDPOINT_URL[_S3]`` (moto, the local runner) boto3's path-style URLs to that host apply.
    """
    import boto3
    from botocore.config import Config

    explicit = os.environ.get("TKW_AWS_ENDPOINT_URL") or None
    from_env = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    session = boto3.session.Session()
    region = session.region_name
    endpoint = explicit
    addressing: Literal["auto", "virtual"] = "auto"
    if endpoint is None and not from_env and region:
        endpoint = f"https://s3.{region}.amazonaws.com"
        addressing = "virtual"
    return session.client(
        "s3",
        endpoint_url=endpoint,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": addressing},
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=32,
            # Reports are small and written once: no client-side CRC over every body.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


@lru_cache(maxsize=4)
def report_store(
    table_name: str,
    bucket: str,
    link_expiry_seconds: int = MAX_LINK_EXPIRY_SECONDS,
    retention_days: int = DEFAULT_RETENTION_DAYS,
) -> S3ReportStore:
    """The process's store (its clients are created on first use)."""
    return S3ReportStore(table_name, bucket, link_expiry_seconds=link_expiry_seconds, retention_days=retention_days)


def report_store_for(settings: Settings) -> S3ReportStore:
    """The store for a :class:`tkw.settings.Settings` (index items live as long as the bucket keeps
    reports: ``report_retention_days`` when settings carry it, else 30 days as the template's default)."""
    retention = int(getattr(settings, "report_retention_days", DEFAULT_RETENTION_DAYS))
    return report_store(settings.table_name, settings.reports_bucket, settings.report_link_expiry_seconds, retention)
