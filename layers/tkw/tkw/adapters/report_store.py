"""S3 + DynamoDB implementation of :class:`tkw.reports.store.ReportStore`.

A report is stored with DynamoDB BatchWriteItem calls only (25 items a call, the batch's duplicate
X-Request-Id claims in the same calls): no S3 call and no conditional write on the report
worker's path unless a record is too large for an item. Locally every item costs the report
worker moto's work (more with each attribute), so a report is one item wherever it can be.

DynamoDB (the one table; ``expires_at`` is the TTL attribute, and every read also treats
``expires_at <= now`` as gone because TTL deletion is lazy):

* listing: ``pk=REPORTS#{ods}``, ``sk={UTC time}#{id}`` with what listings filter on (verdict,
  correlation_id, direction when outbound) and ``summary``, the listing's JSON
  (:class:`~tkw.reports.store.ReportSummary`; older items have report_id and one attribute per field);
* a report whose id carries its time (a UUIDv7 issued when its request arrived: every report the
  request path hands over) keeps its record in its listing item, whose ``sk`` is then
  ``{the id's millisecond}#{id}``: the id alone finds it (scoped to the ODS code, so another
  organisation's id is simply not found). The item holds ``record``, the record's JSON
  zlib-compressed (Binary), when that is at most 300 KB (an item holds 400 KB), and ``in_s3``, the
  formats already in S3 (a String Set);
* any other report (and every report stored before) has a lookup item ``pk=REPORT#{ods}#{id}``,
  ``sk=REPORT`` besides its listing item, with ``time`` (the day of its S3 keys), ``record`` and
  ``in_s3`` as above; older ones name their S3 keys (``s3_key``/``html_key``) instead of ``time``;
* duplicate X-Request-Id: ``pk=REQID#{ods}``, ``sk={x-request-id}`` with the claiming report id.

S3 (the private reports bucket), objects made on demand:

* ``reports/{ods}/{yyyy}/{mm}/{dd}/{id}.json`` the record, ``.html`` its rendering: written the first
  time a download link asks for them (a record too large for its item is written at once);
* ``zips/{ods}/{zip id}.zip`` packaged downloads. The bucket's lifecycle rule expires all of them
  (an object written on demand outlives its item: the lifecycle counts from its later creation).

boto3 clients are created on first use, never at import, so ``mock_aws`` and ``AWS_ENDPOINT_URL``
(or the template's ``TKW_AWS_ENDPOINT_URL``) apply.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import threading
import time
import uuid
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from tkw.reports.html import render_report
from tkw.reports.job import issued_at
from tkw.reports.model import ReportRecord
from tkw.reports.package import build_zip
from tkw.reports.store import (
    MAX_ZIP_REPORTS,
    ReportFormat,
    ReportPage,
    ReportQuery,
    ReportSummary,
    RequestIdClaim,
    ZipPackage,
    check_key_part,
    decode_page_token,
    encode_page_token,
    matches,
    report_key,
    reused_request_ids,
    summary_of,
    time_bounds,
    time_key,
    zip_key,
)
from tkw.settings import DEFAULT_REPORT_RETENTION_DAYS, Settings

LIST_PK = "REPORTS#{ods}"
ID_PK = "REPORT#{ods}#{id}"
ID_SK = "REPORT"
REQUEST_ID_PK = "REQID#{ods}"
MAX_LINK_EXPIRY_SECONDS = 900
# A record whose zlib-compressed JSON is larger goes to S3: DynamoDB items hold 400 KB in all.
MAX_RECORD_IN_ITEM_BYTES = 300_000
MAX_BATCH_WRITE = 25  # DynamoDB's BatchWriteItem limit
MAX_BATCH_GET = 100  # DynamoDB's BatchGetItem limit
# A listing reads at most this many DynamoDB pages before handing back a token (filters may skip
# most items; a request must stay well inside API Gateway's 29 s).
MAX_QUERY_PAGES = 10
_CONTENT_TYPES: dict[str, str] = {"json": "application/json", "html": "text/html; charset=utf-8"}

logger = logging.getLogger(__name__)
_GONE = frozenset({"NoSuchKey", "404", "AccessDenied", "403"})
# Listing items written before the summary became one JSON attribute had these attributes.
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
# What a listing reads of its items (the summary, or the attributes of the items written before).
_LISTED_ATTRIBUTES = (
    "pk",
    "sk",
    "summary",
    "report_id",
    "time",
    "organisation",
    "verdict",
    "errors",
    "warnings",
    "status",
    *_SUMMARY_ATTRIBUTES,
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
        retention_days: int = DEFAULT_REPORT_RETENTION_DAYS,
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

            # Every request here is built from typed records by this adapter; botocore's walk over
            # each attribute of 25 items a batch was a tenth of the report worker's time per report.
            return client("dynamodb", validated=False)
        return self._dynamodb

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            with self._lock:
                if self._s3 is None:
                    self._s3 = _s3_client()
        return self._s3

    # -- ReportStore ----------------------------------------------------------------------------

    def claim_request_id(self, ods: str, request_id: str, now: float, report_id: str) -> bool:
        """STRICT_MODE's claim on the request path (it decides the answer): one conditional write."""
        if not request_id:
            return False
        client = self.dynamodb
        try:
            client.put_item(
                TableName=self.table_name,
                Item=_claim_item(RequestIdClaim(check_key_part(ods, "organisation"), request_id, report_id, now)),
                # A lapsed item TTL has not deleted yet counts as absent; a retried report's own
                # claim is not a reuse.
                ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now OR report_id = :report",
                ExpressionAttributeValues={":now": _n(math.floor(now)), ":report": _s(report_id)},
            )
        except client.exceptions.ConditionalCheckFailedException:
            return True
        return False

    def claim_request_ids(self, claims: Sequence[RequestIdClaim]) -> set[str]:
        """The report worker's claims: one BatchGetItem per 100 X-Request-Ids; :meth:`save_all`
        writes the new claims with the index items.

        Not a conditional write per claim: that is one DynamoDB call (a round trip, ~3 ms in moto)
        per report, where the batch costs a fraction of a millisecond each. The check and the write
        are not atomic: two workers given the same X-Request-Id at the same moment could both miss
        the other. Locally there is one report worker per stack, and batches are checked one after
        the other; on AWS the window is the milliseconds between one batch's read and its write, and
        the finding is advisory outside STRICT_MODE (whose claim stays a conditional write).
        """
        claims = [c for c in claims if c.request_id]
        keys: dict[tuple[str, str], tuple[str, str]] = {}
        for claim in claims:
            pk = REQUEST_ID_PK.format(ods=check_key_part(claim.ods, "organisation"))
            keys[(pk, _request_id_sort_key(claim.request_id))] = (claim.ods, claim.request_id)
        stored = {
            keys[(item["pk"]["S"], item["sk"]["S"])]: (item["report_id"]["S"], int(item["expires_at"]["N"]))
            for item in self._batch_get(list(keys), "pk, sk, report_id, expires_at")
            if "report_id" in item and "expires_at" in item
        }
        return reused_request_ids(claims, stored)

    def save_all(self, records: Sequence[ReportRecord], claims: Sequence[RequestIdClaim] = ()) -> list[str]:
        """Each record into its id item (zlib JSON), or into S3 first when too large for one (an
        index entry must never point at a missing report); then the index items and the claims in
        BatchWriteItem calls of 25, unprocessed items retried with backoff, then reported failed."""
        failed: list[str] = []
        packed: list[tuple[ReportRecord, bytes | None]] = []
        large: list[tuple[ReportRecord, bytes]] = []
        for record in records:
            try:
                check_key_part(record.organisation, "organisation")
                check_key_part(record.id, "report id")
                data = record.to_json().encode()
                compressed = zlib.compress(data, 1)  # fast; JSON reports still shrink ~5x
            except Exception:  # reported back as this record's failure; the worker retries it
                logger.exception("Encoding report %s failed", record.id)
                failed.append(record.id)
                continue
            if len(compressed) <= MAX_RECORD_IN_ITEM_BYTES:
                packed.append((record, compressed))
            else:
                large.append((record, data))
        for (record, _), error in zip(large, _pool().map(self._put_record, large), strict=True):
            if error is None:
                packed.append((record, None))
            else:
                failed.append(record.id)
        stored = {record.id for record, _ in packed}
        items: dict[tuple[str, str], dict[str, Any]] = {}  # one write per key: a batch may not repeat one
        owners: dict[tuple[str, str], str] = {}  # whose report each item is
        for record, in_item in packed:
            for item in self._index_items(record, in_item):
                items[_key_of(item)] = item
                owners[_key_of(item)] = record.id
        for claim in sorted(claims, key=lambda c: c.received):  # the latest claim on a key holds it
            if claim.request_id and claim.report_id in stored:
                item = _claim_item(claim)
                items[_key_of(item)] = item
                owners[_key_of(item)] = claim.report_id
        writes = list(items.values())
        for start in range(0, len(writes), MAX_BATCH_WRITE):
            failed += [owners[key] for key in self._write_items(writes[start : start + MAX_BATCH_WRITE])]
        return list(dict.fromkeys(failed))

    def _put_record(self, large: tuple[ReportRecord, bytes]) -> Exception | None:
        record, data = large
        try:
            self._put(report_key(record.organisation, record.id, record.time, "json"), data, "json")
        except Exception as err:  # reported back as this record's failure; the worker retries it
            logger.exception("Storing report %s failed", record.id)
            return err
        return None

    def _write_items(self, items: list[dict[str, Any]]) -> list[tuple[str, str]]:
        """Write the items (one BatchWriteItem, unprocessed ones retried); the keys not written."""
        pending = [{"PutRequest": {"Item": item}} for item in items]
        for attempt in range(5):
            try:
                answer = self.dynamodb.batch_write_item(RequestItems={self.table_name: pending})
            except Exception:
                logger.exception("Writing report items failed")
                break
            pending = answer.get("UnprocessedItems", {}).get(self.table_name, [])
            if not pending:
                return []
            time.sleep(0.05 * 2**attempt)
        return [_key_of(r["PutRequest"]["Item"]) for r in pending]

    def _batch_get(self, keys: Sequence[tuple[str, str]], projection: str | None = None) -> list[dict[str, Any]]:
        """The items of ``keys`` that exist, 100 keys a BatchGetItem; unprocessed keys retried."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), MAX_BATCH_GET):
            chunk = keys[start : start + MAX_BATCH_GET]
            request: dict[str, Any] = {"Keys": [{"pk": _s(pk), "sk": _s(sk)} for pk, sk in chunk]}
            if projection is not None:
                request["ProjectionExpression"] = projection
            for attempt in range(6):
                answer = self.dynamodb.batch_get_item(RequestItems={self.table_name: request})
                found += answer.get("Responses", {}).get(self.table_name, [])
                unprocessed = answer.get("UnprocessedKeys", {}).get(self.table_name)
                if not unprocessed:
                    break
                request = unprocessed
                time.sleep(0.05 * 2**attempt)
            else:
                raise RuntimeError("DynamoDB left keys unprocessed after retries")
        return found

    def _index_items(self, record: ReportRecord, compressed: bytes | None) -> list[dict[str, Any]]:
        """The listing item holding ``compressed`` (None: the JSON is in S3) when the id finds it,
        else the listing item and the lookup item holding it."""
        ods = record.organisation
        expires_at = math.floor(record.time.timestamp()) + self.retention_seconds
        summary = summary_of(record)
        by_id = _listing_sort_key(record.id)
        # The id's millisecond is the record's: the listing item is found by the id (and sorts
        # within that millisecond by id; listings compare the summary's exact time).
        one_item = by_id is not None and by_id[:23] == summary.time[:23]
        # What a listing filters on stays in attributes; the rest of the summary is one JSON
        # attribute (an item's write cost grows with its number of attributes).
        list_item: dict[str, Any] = {
            "pk": _s(LIST_PK.format(ods=ods)),
            "sk": _s(by_id if one_item and by_id is not None else f"{summary.time}#{record.id}"),
            "verdict": _s(record.verdict),
            "summary": _s(summary.model_dump_json(exclude_defaults=True)),
            "expires_at": _n(expires_at),
        }
        if summary.correlation_id:
            list_item["correlation_id"] = _s(summary.correlation_id)
        if summary.direction != "inbound":
            list_item["direction"] = _s(summary.direction)
        if one_item:
            return [_holding(list_item, compressed)]
        id_item: dict[str, Any] = {
            "pk": _s(ID_PK.format(ods=ods, id=record.id)),
            "sk": _s(ID_SK),
            "time": _s(summary.time),
            "expires_at": _n(expires_at),
        }
        return [list_item, _holding(id_item, compressed)]

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
        # A listing reads summaries, never the records some listing items hold.
        projected = {f"#p{i}": name for i, name in enumerate(_LISTED_ATTRIBUTES)}
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "FilterExpression": " AND ".join(filters),
            "ProjectionExpression": ", ".join(projected),
            "ExpressionAttributeNames": names | projected,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,  # newest first
        }
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
        item = self._item(ods, report_id, now)
        return None if item is None else self._record_of(ods, item)

    def link(self, ods: str, report_id: str, fmt: ReportFormat, now: float) -> str | None:
        """Writes the object on the first request for it (the HTML rendered then: nobody waits for
        HTML that may never be opened), notes that in the item, then presigns."""
        item = self._item(ods, report_id, now)
        if item is None:
            return None
        key = _object_key(ods, item, fmt)
        in_s3 = set(item.get("in_s3", {}).get("SS", ()))
        # Items without a record (too large, or written before records lived in items) had their
        # JSON written to S3 with them.
        if fmt not in in_s3 and (fmt == "html" or "record" in item):
            if fmt == "json":
                data = zlib.decompress(item["record"]["B"])
            else:
                record = self._record_of(ods, item)
                if record is None:
                    return None
                data = render_report(record).encode()
            self._put(key, data, fmt)
            self._note_in_s3(item, fmt)
        return self._presign(key, _CONTENT_TYPES[fmt], f"tkw-report-{report_id}.{fmt}")

    def package(self, ods: str, report_ids: Sequence[str], now: float) -> ZipPackage | None:
        check_key_part(ods, "organisation")
        wanted = list(dict.fromkeys(report_ids))[:MAX_ZIP_REPORTS]
        keys = [key for i in wanted if _is_key_part(i) for key in _keys_of(ods, i)]
        items = [i for i in self._batch_get(keys) if _live(i, now) and _holds_report(i)]
        in_items = [self._record_of(ods, i) for i in items if "record" in i]
        in_s3 = list(_pool().map(lambda i: self._record_of(ods, i), [i for i in items if "record" not in i]))
        records = [r for r in in_items + in_s3 if r is not None]
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

    def _item(self, ods: str, report_id: str, now: float) -> dict[str, Any] | None:
        """The live item holding the report (its listing item, else its lookup item), or None."""
        check_key_part(ods, "organisation")
        if not _is_key_part(report_id):
            return None  # no report can have such an id
        for pk, sk in _keys_of(ods, report_id):
            item: dict[str, Any] | None = self.dynamodb.get_item(
                TableName=self.table_name, Key={"pk": _s(pk), "sk": _s(sk)}
            ).get("Item")
            if item is not None and _holds_report(item):
                return item if _live(item, now) else None
        return None

    def _record_of(self, ods: str, item: dict[str, Any]) -> ReportRecord | None:
        """The record an id item holds, or reads from S3 (None: expired there already)."""
        if "record" in item:
            body: bytes = zlib.decompress(item["record"]["B"])
        else:
            from botocore.exceptions import ClientError

            try:
                key = _object_key(ods, item, "json")
                body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except ClientError as err:
                # Expired by the bucket's lifecycle before its index item. Without s3:ListBucket a
                # missing key answers AccessDenied rather than NoSuchKey.
                if err.response.get("Error", {}).get("Code") in _GONE:
                    return None
                raise
        record = ReportRecord.from_json(body)
        return record if record.organisation == ods else None

    def _note_in_s3(self, item: dict[str, Any], fmt: ReportFormat) -> None:
        client = self.dynamodb
        with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
            client.update_item(
                TableName=self.table_name,
                Key={"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="ADD in_s3 :fmt",
                ConditionExpression="attribute_exists(pk)",  # never recreate an item TTL just deleted
                ExpressionAttributeValues={":fmt": {"SS": [fmt]}},
            )

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


def _key_of(item: dict[str, Any]) -> tuple[str, str]:
    return item["pk"]["S"], item["sk"]["S"]


def _listing_sort_key(report_id: str) -> str | None:
    """``{the id's millisecond}#{id}`` for an id that carries its issue time (a UUIDv7), else None."""
    issued = issued_at(report_id)
    if issued is None:
        return None
    millis = round(issued * 1000)
    moment = datetime.fromtimestamp(millis // 1000, UTC).replace(microsecond=millis % 1000 * 1000)
    return f"{time_key(moment)}#{report_id}"


def _keys_of(ods: str, report_id: str) -> list[tuple[str, str]]:
    """Where a report may be held: its listing item (an id that carries its time), its lookup item."""
    by_id = _listing_sort_key(report_id)
    lookup = (ID_PK.format(ods=ods, id=report_id), ID_SK)
    return [(LIST_PK.format(ods=ods), by_id), lookup] if by_id is not None else [lookup]


def _holding(item: dict[str, Any], compressed: bytes | None) -> dict[str, Any]:
    """``item`` holding the record (None: its JSON is in S3 already)."""
    if compressed is not None:
        return item | {"record": {"B": compressed}}
    return item | {"in_s3": {"SS": ["json"]}}


def _holds_report(item: dict[str, Any]) -> bool:
    """A lookup item, or a listing item that holds its record (listing items written before do not)."""
    return "record" in item or "in_s3" in item or "s3_key" in item


def _object_key(ods: str, item: dict[str, Any], fmt: ReportFormat) -> str:
    """Where a report's JSON or HTML object is (or will be) in S3: named by older items, else by its day."""
    named = item.get("s3_key" if fmt == "json" else "html_key")
    if named:
        return str(named["S"])
    if item["pk"]["S"].startswith(LIST_PK.format(ods="")):  # REPORTS#{ods}, sk={time}#{id}
        day, _, report_id = item["sk"]["S"].partition("#")
    else:  # REPORT#{ods}#{id}
        day, report_id = item["time"]["S"], item["pk"]["S"].rpartition("#")[2]
    return report_key(ods, report_id, day, fmt)


def _claim_item(claim: RequestIdClaim) -> dict[str, Any]:
    return {
        "pk": _s(REQUEST_ID_PK.format(ods=claim.ods)),
        "sk": _s(_request_id_sort_key(claim.request_id)),
        "report_id": _s(claim.report_id),
        "expires_at": _n(claim.expires_at),
    }


def _live(item: dict[str, Any], now: float) -> bool:
    return int(item.get("expires_at", {}).get("N", "0")) > now


def _is_key_part(value: str) -> bool:
    try:
        check_key_part(value, "report id")
    except ValueError:
        return False
    return True


def _summary_from_item(item: dict[str, Any]) -> ReportSummary | None:
    try:
        if "summary" in item:
            return ReportSummary.model_validate_json(item["summary"]["S"])
        # Written before summaries were one attribute: one attribute per field.
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
    retention_days: int = DEFAULT_REPORT_RETENTION_DAYS,
) -> S3ReportStore:
    """The process's store (its clients are created on first use)."""
    return S3ReportStore(table_name, bucket, link_expiry_seconds=link_expiry_seconds, retention_days=retention_days)


def report_store_for(settings: Settings) -> S3ReportStore:
    """The store for a :class:`tkw.settings.Settings` (index items live as long as the bucket keeps reports)."""
    return report_store(
        settings.table_name,
        settings.reports_bucket,
        settings.report_link_expiry_seconds,
        settings.report_retention_days,
    )
