"""DynamoDB implementation of the stateful scenario's :class:`~tkw.stateful.store.StateStore`.

Items in the one table (pk/sk, TTL attribute ``expires_at``):

* state: ``pk=STATE#{ods}``, ``sk=PATIENT#{nhs number}`` with ``state``, ``generation``, ``version``,
  ``expires_at`` and, while they exist, ``appointment_id`` / ``service_request_id``;
* id lookup: ``pk=STATEFUL-ID#{resource id}``, ``sk=RESOURCE`` with ``resource_type``, ``ods``,
  ``generation``, ``status``, ``expires_at`` and ``resource`` (the JSON snapshot).

A transition is one ``TransactWriteItems``: the state Put is conditional on the state read
(``version = :v``, or ``attribute_not_exists(pk) OR expires_at <= :now`` when the caller read none),
new id items are conditional on not existing, and status changes ride along, so they all happen or
none do. The boto3 client is created lazily (``tkw.adapters.aws``) unless one is injected.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any

from tkw.adapters.aws import DynamoTable
from tkw.stateful.machine import State
from tkw.stateful.service import STATEFUL_NHS_NUMBER
from tkw.stateful.store import Commit, ResourceRecord, StateRecord

STATE_PK = "STATE#{ods}"
STATE_SK = f"PATIENT#{STATEFUL_NHS_NUMBER}"
RESOURCE_PK = "STATEFUL-ID#{id}"
RESOURCE_SK = "RESOURCE"

# Cancellation reasons that mean "someone else changed it first": re-read and re-evaluate.
_LOST_RACE = {"ConditionalCheckFailed", "TransactionConflict"}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


class DynamoStateStore(DynamoTable):
    # -- keys ---------------------------------------------------------------------------------

    @staticmethod
    def state_key(ods: str) -> dict[str, dict[str, str]]:
        return {"pk": _s(STATE_PK.format(ods=ods)), "sk": _s(STATE_SK)}

    @staticmethod
    def resource_key(resource_id: str) -> dict[str, dict[str, str]]:
        return {"pk": _s(RESOURCE_PK.format(id=resource_id)), "sk": _s(RESOURCE_SK)}

    # -- StateStore ---------------------------------------------------------------------------

    def read_state(self, ods: str) -> StateRecord | None:
        item = self.client.get_item(TableName=self.table_name, Key=self.state_key(ods), ConsistentRead=True).get("Item")
        return None if item is None else _state_from_item(ods, item)

    def commit(self, expected: StateRecord | None, change: Commit, now: float) -> bool:
        state_put: dict[str, Any] = {"TableName": self.table_name, "Item": _state_item(change.state)}
        if expected is None:
            state_put["ConditionExpression"] = "attribute_not_exists(pk) OR expires_at <= :now"
            state_put["ExpressionAttributeValues"] = {":now": _n(math.floor(now))}
        else:
            state_put["ConditionExpression"] = "version = :version"
            state_put["ExpressionAttributeValues"] = {":version": _s(expected.version)}
        items: list[dict[str, Any]] = [{"Put": state_put}]
        items += [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": _resource_item(record),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for record in change.new_resources
        ]
        items += [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": self.resource_key(status_change.resource_id),
                    "UpdateExpression": "SET #status = :status",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {":status": _s(status_change.status)},
                }
            }
            for status_change in change.status_changes
        ]
        client = self.client
        try:
            client.transact_write_items(TransactItems=items)
        except client.exceptions.TransactionCanceledException as err:
            reasons = {r.get("Code") for r in err.response.get("CancellationReasons") or []}
            if reasons & _LOST_RACE:
                return False
            raise
        except (client.exceptions.TransactionConflictException, client.exceptions.TransactionInProgressException):
            return False
        return True

    def read_resource(self, resource_id: str) -> ResourceRecord | None:
        item = self.client.get_item(
            TableName=self.table_name, Key=self.resource_key(resource_id), ConsistentRead=True
        ).get("Item")
        return None if item is None else _resource_from_item(resource_id, item)

    def delete_state(self, ods: str) -> None:
        self.client.delete_item(TableName=self.table_name, Key=self.state_key(ods))


@lru_cache(maxsize=4)
def state_store(table_name: str) -> DynamoStateStore:
    """The process's store for a table (its client is looked up lazily on each call)."""
    return DynamoStateStore(table_name)


# -- item mapping -----------------------------------------------------------------------------


def _state_item(record: StateRecord) -> dict[str, Any]:
    item: dict[str, Any] = {
        **DynamoStateStore.state_key(record.ods),
        "state": _s(str(record.state)),
        "generation": _s(record.generation),
        "version": _s(record.version),
        "expires_at": _n(record.expires_at),
    }
    if record.appointment_id:
        item["appointment_id"] = _s(record.appointment_id)
    if record.service_request_id:
        item["service_request_id"] = _s(record.service_request_id)
    return item


def _state_from_item(ods: str, item: dict[str, Any]) -> StateRecord | None:
    try:
        return StateRecord(
            ods=ods,
            state=State(item["state"]["S"]),
            generation=item["generation"]["S"],
            version=item["version"]["S"],
            expires_at=int(item["expires_at"]["N"]),
            appointment_id=item.get("appointment_id", {}).get("S"),
            service_request_id=item.get("service_request_id", {}).get("S"),
        )
    except (KeyError, ValueError):  # not an item this adapter wrote: treat as no state
        return None


def _resource_item(record: ResourceRecord) -> dict[str, Any]:
    return {
        **DynamoStateStore.resource_key(record.resource_id),
        "resource_type": _s(record.resource_type),
        "ods": _s(record.ods),
        "generation": _s(record.generation),
        "status": _s(record.status),
        "expires_at": _n(record.expires_at),
        "resource": _s(json.dumps(record.resource, separators=(",", ":"), ensure_ascii=False)),
    }


def _resource_from_item(resource_id: str, item: dict[str, Any]) -> ResourceRecord | None:
    try:
        resource_type = item["resource_type"]["S"]
        if resource_type not in ("Appointment", "ServiceRequest"):
            return None
        resource = json.loads(item["resource"]["S"])
        return ResourceRecord(
            resource_id=resource_id,
            resource_type=resource_type,
            ods=item["ods"]["S"],
            generation=item["generation"]["S"],
            status=item["status"]["S"],
            expires_at=int(item["expires_at"]["N"]),
            resource=resource if isinstance(resource, dict) else {},
        )
    except (KeyError, ValueError):  # a partial item (e.g. a status update after a TTL delete)
        return None
