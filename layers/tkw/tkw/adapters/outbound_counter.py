"""Hourly outbound counts in the single DynamoDB table (implements ``tkw.outbound_limits.OutboundCounter``).

==========================  =========================  =====================
pk                          sk                         attributes
==========================  =========================  =====================
``OUTBOUND#{ods}``          ``{kind}#{window start}``  sent, expires_at (TTL)
==========================  =========================  =====================

One conditional ``UpdateItem`` per send: the condition makes the count exact under concurrency.
"""

from __future__ import annotations

from tkw.adapters import aws


class DynamoOutboundCounter(aws.DynamoTable):
    def take(self, organisation: str, kind: str, window_start: int, limit: int, expires_at: int) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": f"OUTBOUND#{organisation}"}, "sk": {"S": f"{kind}#{window_start}"}},
                UpdateExpression="ADD sent :one SET expires_at = :expires",
                ConditionExpression="attribute_not_exists(sent) OR sent < :limit",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":expires": {"N": str(expires_at)},
                },
            )
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
