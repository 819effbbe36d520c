"""AWS adapters of outbound responses: sender endpoints and send claims (DynamoDB), the queue (SQS).

Items in the one table (pk/sk):

* ``pk=ENDPOINTS#{ods}``, ``sk=SERVICE#{service_id}``: a sender's registered endpoint (JSON in
  ``data``, PEMs included: the API never returns them). No expiry: it stays until removed.
* ``pk=OUTBOUND#{trigger_id}``, ``sk=STEP#{n}``: the claim that step ``n`` of a trigger was taken
  by a worker, written with a conditional put, so a redelivered message never sends it twice.
"""

from __future__ import annotations

import json
import math
from typing import Any

from aws_lambda_powertools import Logger

from tkw.adapters.aws import DynamoTable
from tkw.outbound.endpoints import SenderEndpoint

ENDPOINTS_PK = "ENDPOINTS#{ods}"
SERVICE_SK = "SERVICE#{service_id}"
CLAIM_PK = "OUTBOUND#{trigger_id}"
CLAIM_SK = "STEP#{step}"
logger = Logger(child=True)
CLAIM_SECONDS = 7 * 24 * 3600  # a redelivery after this long is no longer a risk


def _s(value: str) -> dict[str, str]:
    return {"S": value}


class DynamoEndpointStore(DynamoTable):
    def _key(self, organisation: str, service_id: str) -> dict[str, dict[str, str]]:
        return {"pk": _s(ENDPOINTS_PK.format(ods=organisation)), "sk": _s(SERVICE_SK.format(service_id=service_id))}

    def put(self, endpoint: SenderEndpoint) -> None:
        item = {**self._key(endpoint.organisation, endpoint.service_id), "data": _s(endpoint.model_dump_json())}
        self.client.put_item(TableName=self.table_name, Item=item)

    def get(self, organisation: str, service_id: str) -> SenderEndpoint | None:
        found = self.client.get_item(
            TableName=self.table_name, Key=self._key(organisation, service_id), ConsistentRead=True
        ).get("Item")
        return SenderEndpoint.model_validate_json(found["data"]["S"]) if found else None

    def list(self, organisation: str) -> list[SenderEndpoint]:
        endpoints: list[SenderEndpoint] = []
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
            ExpressionAttributeValues={
                ":pk": _s(ENDPOINTS_PK.format(ods=organisation)),
                ":sk": _s(SERVICE_SK.format(service_id="")),
            },
            ConsistentRead=True,
        ):
            endpoints += [SenderEndpoint.model_validate_json(item["data"]["S"]) for item in page.get("Items", [])]
        return endpoints

    def delete(self, organisation: str, service_id: str) -> bool:
        answer = self.client.delete_item(
            TableName=self.table_name, Key=self._key(organisation, service_id), ReturnValues="ALL_OLD"
        )
        return bool(answer.get("Attributes"))


class DynamoSendClaims(DynamoTable):
    def claim(self, trigger_id: str, step: int, now: float) -> bool:
        """True for the first caller for (trigger, step); False for every later one."""
        client = self.client
        try:
            client.put_item(
                TableName=self.table_name,
                Item={
                    "pk": _s(CLAIM_PK.format(trigger_id=trigger_id)),
                    "sk": _s(CLAIM_SK.format(step=step)),
                    "expires_at": {"N": str(math.floor(now) + CLAIM_SECONDS)},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except client.exceptions.ConditionalCheckFailedException:
            return False
        return True


class SqsResponseQueue:
    def __init__(self, queue_url: str, client: Any | None = None) -> None:
        self.queue_url = queue_url
        self._client = client

    def send(self, body: dict[str, Any], delay_seconds: int) -> None:
        if not self.queue_url:
            raise RuntimeError("RESPONSES_QUEUE_URL is not set")
        from tkw.adapters.aws import client

        (self._client or client("sqs")).send_message(
            QueueUrl=self.queue_url,
            MessageBody=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
            DelaySeconds=max(0, min(int(delay_seconds), 900)),  # SQS allows 0..900 s
        )


class RegisteredEndpoints:
    """The Endpoint Catalogue's lookup of sender endpoints (``tkw.catalogue.RegisteredServices``).

    Asked only for targets outside TKW's own services. A storage failure counts as "not registered"
    (the proxy's 404 says so), never as a 500 to the sender.
    """

    def __init__(self, table_name: str) -> None:
        self._store = DynamoEndpointStore(table_name)

    def is_registered(self, service_id: str, organisation: str) -> bool:
        try:
            return self._store.get(organisation, service_id) is not None
        except Exception:
            logger.exception("Endpoint Catalogue lookup of registered endpoints failed")
            return False
