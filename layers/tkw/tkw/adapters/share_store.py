"""Share links in the single DynamoDB table (implements ``tkw.reports.shares.ShareStore``).

==========================  ===============================  ==========================================
pk                          sk                               attributes
==========================  ===============================  ==========================================
``SHARE#{sha256(token)}``   ``SHARE``                        organisation, kind, report_ids, created_at,
                                                             valid_until, [created_by, revoked_at,
                                                             opened_at], open_count, expires_at (TTL)
``SHARES#{ods}``            ``{created_at:010d}#{id}``       the same: the organisation's list
==========================  ===============================  ==========================================

Both items are written and changed together (one transaction), so the list never disagrees with
what the link does. Items stay ``KEEP_AFTER_EXPIRY_SECONDS`` past the link's end, so an expired link
still answers "expired" rather than "unknown".
"""

from __future__ import annotations

from typing import Any

from tkw.adapters import aws
from tkw.reports.shares import ShareRecord

_LIST_LIMIT = 100


def _keys(share: ShareRecord) -> list[dict[str, dict[str, str]]]:
    return [
        {"pk": {"S": f"SHARE#{share.id}"}, "sk": {"S": "SHARE"}},
        {"pk": {"S": f"SHARES#{share.organisation}"}, "sk": {"S": f"{share.created_at:010d}#{share.id}"}},
    ]


def _item(share: ShareRecord) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": {"S": share.id},
        "organisation": {"S": share.organisation},
        "kind": {"S": share.kind},
        "report_ids": {"L": [{"S": r} for r in share.report_ids]},
        "created_at": {"N": str(share.created_at)},
        "valid_until": {"N": str(share.valid_until)},
        "open_count": {"N": str(share.open_count)},
        "expires_at": {"N": str(share.keep_until)},
    }
    for name in ("created_by", "revoked_at", "opened_at"):
        value = getattr(share, name)
        if value is not None:
            item[name] = {"S": value} if isinstance(value, str) else {"N": str(value)}
    return item


def _record(item: dict[str, Any]) -> ShareRecord:
    def number(name: str) -> int | None:
        return int(item[name]["N"]) if name in item else None

    return ShareRecord(
        id=item["id"]["S"],
        organisation=item["organisation"]["S"],
        kind=item["kind"]["S"],
        report_ids=tuple(v["S"] for v in item["report_ids"]["L"]),
        created_at=int(item["created_at"]["N"]),
        valid_until=int(item["valid_until"]["N"]),
        created_by=item["created_by"]["S"] if "created_by" in item else None,
        revoked_at=number("revoked_at"),
        opened_at=number("opened_at"),
        open_count=int(item.get("open_count", {"N": "0"})["N"]),
    )


class DynamoShareStore(aws.DynamoTable):
    def put(self, share: ShareRecord) -> None:
        self.client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self.table_name, "Item": {**key, **_item(share)}}} for key in _keys(share)
            ]
        )

    def get(self, share_id: str) -> ShareRecord | None:
        item = self.client.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": f"SHARE#{share_id}"}, "sk": {"S": "SHARE"}},
            ConsistentRead=True,  # a withdrawn link must stop working at once
        ).get("Item")
        return _record(item) if item else None

    def list(self, organisation: str, now: float) -> list[ShareRecord]:
        page = self.client.query(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk",
            FilterExpression="expires_at > :now",
            ExpressionAttributeValues={":pk": {"S": f"SHARES#{organisation}"}, ":now": {"N": str(int(now))}},
            ScanIndexForward=False,
            Limit=_LIST_LIMIT,
            ConsistentRead=True,
        )
        return [_record(item) for item in page.get("Items", [])]

    def _update(self, share: ShareRecord, expression: str, values: dict[str, Any]) -> None:
        self.client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": key,
                        "UpdateExpression": expression,
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": values,
                    }
                }
                for key in _keys(share)
            ]
        )

    def revoke(self, share: ShareRecord, now: float) -> None:
        self._update(share, "SET revoked_at = if_not_exists(revoked_at, :now)", {":now": {"N": str(int(now))}})

    def record_opened(self, share: ShareRecord, now: float) -> None:
        self._update(
            share,
            "SET opened_at = :now ADD open_count :one",
            {":now": {"N": str(int(now))}, ":one": {"N": "1"}},
        )
