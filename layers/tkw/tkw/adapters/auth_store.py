"""The API-M emulation's state in the single DynamoDB table (implements ``tkw.auth.ports.AuthStore``).

Items (``expires_at`` is the table's TTL attribute, epoch seconds):

==============================  ==================  ===========================================
pk                              sk                  attributes
==============================  ==================  ===========================================
``APP#{api_key}``               ``APP``             name, ods_codes, created_at, [expires_at]
``APP#{api_key}``               ``KEY#{kid}``       kid, public_key_pem, [expires_at]
``JTI#{api_key}``               sha256(jti), hex    expires_at (exp + 24 h)
``TOKEN#{sha256(token)}``       ``TOKEN``           api_key, kid, app_name, ods_codes, issued_at_ms, scope,
                                                    expires_at
==============================  ==================  ===========================================

The jti is stored as its digest so any string a sender puts in ``jti`` makes a valid sort key.
TTL deletion is lazy (and moto never deletes), so every read treats ``expires_at <= now`` as absent,
and the jti write's condition does too. Reads are strongly consistent: a token is used moments
after it is issued, and a removed app must stop working at once.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from tkw.adapters import aws
from tkw.auth.models import AppKey, AppRecord, TokenRecord

_APP_SK = "APP"
_KEY_PREFIX = "KEY#"
_TOKEN_SK = "TOKEN"  # noqa: S105 - a sort key, not a secret
_BATCH = 25


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float | int) -> dict[str, str]:
    return {"N": str(Decimal(str(value)))}


def _app_pk(api_key: str) -> str:
    return f"APP#{api_key}"


def _codes_attribute(codes: tuple[str, ...]) -> dict[str, Any]:
    # A list, not a string set: DynamoDB refuses an empty set.
    return {"ods_codes": {"L": [_s(c) for c in codes]}}


def _codes(item: dict[str, Any]) -> tuple[str, ...]:
    return tuple(v["S"] for v in item.get("ods_codes", {}).get("L", []))


def _live(item: dict[str, Any], now: float) -> bool:
    expires = item.get("expires_at")
    return expires is None or float(expires["N"]) > now


class DynamoAuthStore(aws.DynamoTable):
    # --- applications ----------------------------------------------------------------------

    def _partition(self, api_key: str, projection: str | None = None) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(_app_pk(api_key))},
            "ConsistentRead": True,
        }
        if projection:
            kwargs["ProjectionExpression"] = projection
        while True:
            page = self.client.query(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_app(self, api_key: str, now: float) -> AppRecord | None:
        meta: dict[str, Any] | None = None
        keys: list[AppKey] = []
        for item in self._partition(api_key):
            if not _live(item, now):
                continue
            sk = item["sk"]["S"]
            if sk == _APP_SK:
                meta = item
            elif sk.startswith(_KEY_PREFIX):
                keys.append(AppKey(kid=item["kid"]["S"], public_key_pem=item["public_key_pem"]["S"]))
        if meta is None:
            return None
        return AppRecord(
            api_key=api_key,
            name=meta["name"]["S"],
            keys=tuple(sorted(keys, key=lambda k: k.kid)),
            ods_codes=_codes(meta),
            created_at=int(meta["created_at"]["N"]),
            expires_at=int(meta["expires_at"]["N"]) if "expires_at" in meta else None,
        )

    def app_exists(self, api_key: str, now: float) -> bool:
        found = self.client.get_item(
            TableName=self.table_name,
            Key={"pk": _s(_app_pk(api_key)), "sk": _s(_APP_SK)},
            ProjectionExpression="expires_at, sk",
            ConsistentRead=True,
        ).get("Item")
        return found is not None and _live(found, now)

    def put_app(self, app: AppRecord) -> None:
        pk = _s(_app_pk(app.api_key))
        expiry = {"expires_at": _n(app.expires_at)} if app.expires_at is not None else {}
        meta = {
            "pk": pk,
            "sk": _s(_APP_SK),
            "name": _s(app.name),
            "created_at": _n(app.created_at),
            **_codes_attribute(app.ods_codes),
            **expiry,
        }
        wanted = {_KEY_PREFIX + k.kid for k in app.keys}
        stale = [
            item["sk"]["S"]
            for item in self._partition(app.api_key, projection="sk")
            if item["sk"]["S"].startswith(_KEY_PREFIX) and item["sk"]["S"] not in wanted
        ]
        writes: list[dict[str, Any]] = [{"Put": {"TableName": self.table_name, "Item": meta}}]
        writes += [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": {
                        "pk": pk,
                        "sk": _s(_KEY_PREFIX + k.kid),
                        "kid": _s(k.kid),
                        "public_key_pem": _s(k.public_key_pem),
                        **expiry,
                    },
                }
            }
            for k in app.keys
        ]
        writes += [{"Delete": {"TableName": self.table_name, "Key": {"pk": pk, "sk": _s(sk)}}} for sk in stale]
        # All or nothing, so a reader never sees an app with half its keys (at most 1 + 2 * 20 items).
        self.client.transact_write_items(TransactItems=writes)

    def delete_app(self, api_key: str) -> bool:
        now = time.time()
        existed = False
        keys: list[dict[str, Any]] = []
        for item in self._partition(api_key, projection="pk, sk, expires_at"):
            if item["sk"]["S"] == _APP_SK and _live(item, now):
                existed = True
            keys.append({"pk": item["pk"], "sk": item["sk"]})
        self._delete_all(keys)
        return existed

    def _delete_all(self, keys: list[dict[str, Any]]) -> None:
        for start in range(0, len(keys), _BATCH):
            requests = {self.table_name: [{"DeleteRequest": {"Key": k}} for k in keys[start : start + _BATCH]]}
            for attempt in range(5):
                unprocessed = self.client.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
                if not unprocessed:
                    break
                requests = unprocessed
                time.sleep(0.05 * 2**attempt)
            else:
                raise RuntimeError("DynamoDB left application items undeleted after retries")

    # --- client-assertion jtis ---------------------------------------------------------------

    def put_jti_if_absent(self, api_key: str, jti: str, expires_at: int, now: float) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "pk": _s(f"JTI#{api_key}"),
                    "sk": _s(hashlib.sha256(jti.encode("utf-8", "surrogateescape")).hexdigest()),
                    "expires_at": _n(expires_at),
                },
                # A jti item past its expiry but not yet deleted by TTL does not count as used.
                ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now",
                ExpressionAttributeValues={":now": _n(now)},
            )
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # --- access tokens -----------------------------------------------------------------------

    def put_token(self, token: TokenRecord) -> None:
        self.client.put_item(
            TableName=self.table_name,
            Item={
                "pk": _s(f"TOKEN#{token.token_hash}"),
                "sk": _s(_TOKEN_SK),
                "api_key": _s(token.api_key),
                "kid": _s(token.kid),
                "app_name": _s(token.app_name),
                **_codes_attribute(token.ods_codes),
                "issued_at_ms": _n(token.issued_at_ms),
                "scope": _s(token.scope),
                "expires_at": _n(token.expires_at),
            },
        )

    def get_token(self, token_hash: str, now: float) -> TokenRecord | None:
        item = self.client.get_item(
            TableName=self.table_name,
            Key={"pk": _s(f"TOKEN#{token_hash}"), "sk": _s(_TOKEN_SK)},
            ConsistentRead=True,
        ).get("Item")
        if item is None or not _live(item, now):
            return None
        return TokenRecord(
            token_hash=token_hash,
            api_key=item["api_key"]["S"],
            kid=item["kid"]["S"],
            app_name=item["app_name"]["S"],
            issued_at_ms=int(item["issued_at_ms"]["N"]),
            expires_at=int(Decimal(item["expires_at"]["N"])),
            scope=item["scope"]["S"],
            ods_codes=_codes(item),
        )


_stores: dict[str, DynamoAuthStore] = {}
_lock = threading.Lock()


def get_auth_store(table_name: str | None = None) -> DynamoAuthStore:
    """The process's store for the settings' table; the first call loads ``TKW_APPS_FILE`` into it."""
    if table_name is None:
        from tkw.settings import get_settings

        table_name = get_settings().table_name
    found = _stores.get(table_name)
    if found is not None:
        return found
    with _lock:
        if table_name not in _stores:
            store = DynamoAuthStore(table_name)
            if os.environ.get("TKW_APPS_FILE"):  # only then pay for importing the key parsers
                from tkw.auth.apps import seed_from_env

                seed_from_env(store, time.time())  # a broken seed file fails loudly, at start
            _stores[table_name] = store
        return _stores[table_name]


def reset_auth_stores() -> None:
    """Forget cached stores (tests switch tables and seed files)."""
    with _lock:
        _stores.clear()
