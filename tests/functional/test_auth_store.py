"""DynamoAuthStore on moto (the template's own table): items, expiry on read, atomic jti claims."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from unit.auth.auth_support import API_KEY, NOW, app_record, key_pair

from tkw.adapters.auth_store import DynamoAuthStore, get_auth_store, reset_auth_stores
from tkw.auth.models import AppKey, AppRecord, TokenRecord
from tkw.auth.tokens import hash_token
from tkw_local.backend import Resolver


@pytest.fixture
def table(aws: Resolver) -> str:
    return str(aws.physical["StateTable"])


@pytest.fixture
def store(table: str) -> DynamoAuthStore:
    return DynamoAuthStore(table)


@pytest.fixture
def ddb(aws: Resolver) -> Iterator[Any]:
    yield boto3.client("dynamodb", region_name="eu-west-2")


SAMPLE_TOKEN = "Sr5PGv19wTEHJdDr2wx2f7IGd0cw"


def token_record(token: str = SAMPLE_TOKEN, expires_at: int = int(NOW) + 599) -> TokenRecord:
    return TokenRecord(
        token_hash=hash_token(token),
        api_key=API_KEY,
        kid="TestSupplier-INT-1",
        app_name="Test app",
        issued_at_ms=int(NOW * 1000),
        expires_at=expires_at,
    )


def test_the_template_table_has_the_expected_shape(table: str, ddb: Any) -> None:
    described = ddb.describe_table(TableName=table)["Table"]
    assert {(k["AttributeName"], k["KeyType"]) for k in described["KeySchema"]} == {("pk", "HASH"), ("sk", "RANGE")}
    ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"


def test_app_round_trip(store: DynamoAuthStore) -> None:
    app = app_record()
    store.put_app(app)
    assert store.get_app(API_KEY, NOW) == app
    assert store.app_exists(API_KEY, NOW)
    assert store.get_app("NoSuchKey", NOW) is None
    assert not store.app_exists("NoSuchKey", NOW)


def test_items_use_the_documented_keys(store: DynamoAuthStore, table: str, ddb: Any) -> None:
    store.put_app(app_record())
    store.put_token(token_record())
    assert store.put_jti_if_absent(API_KEY, "jti-1", int(NOW) + 60, NOW)
    keys = {(i["pk"]["S"], i["sk"]["S"]) for i in ddb.scan(TableName=table)["Items"]}
    assert (f"APP#{API_KEY}", "APP") in keys
    assert (f"APP#{API_KEY}", "KEY#TestSupplier-INT-1") in keys
    assert (f"TOKEN#{hash_token(SAMPLE_TOKEN)}", "TOKEN") in keys
    assert any(pk == f"JTI#{API_KEY}" for pk, _ in keys)
    # The token itself is stored nowhere.
    assert SAMPLE_TOKEN not in str(ddb.scan(TableName=table)["Items"])


def test_put_app_replaces_its_keys(store: DynamoAuthStore) -> None:
    store.put_app(app_record())
    rotated = AppRecord(
        api_key=API_KEY,
        name="Renamed",
        created_at=1,
        keys=(AppKey(kid="TestSupplier-INT-2", public_key_pem=key_pair("b").public_pem),),
    )
    store.put_app(rotated)
    found = store.get_app(API_KEY, NOW)
    assert found is not None and found.name == "Renamed" and found.kids == ["TestSupplier-INT-2"]


def test_expired_app_reads_as_absent(store: DynamoAuthStore) -> None:
    store.put_app(app_record()._replace(expires_at=int(NOW) + 10))
    assert store.get_app(API_KEY, NOW) is not None
    assert store.get_app(API_KEY, NOW + 10) is None
    assert not store.app_exists(API_KEY, NOW + 10)


def test_delete_app_removes_everything_of_it(store: DynamoAuthStore, table: str, ddb: Any) -> None:
    store.put_app(app_record())
    store.put_app(app_record(api_key="Another0000000000000000000000001"))
    assert store.delete_app(API_KEY)
    assert store.get_app(API_KEY, NOW) is None
    assert not store.delete_app(API_KEY)
    remaining = {i["pk"]["S"] for i in ddb.scan(TableName=table)["Items"]}
    assert remaining == {"APP#Another0000000000000000000000001"}


def test_token_round_trip_and_expiry(store: DynamoAuthStore) -> None:
    record = token_record()
    store.put_token(record)
    assert store.get_token(record.token_hash, NOW) == record
    assert store.get_token(record.token_hash, record.expires_at - 0.5) == record
    # moto (like DynamoDB, for a while) still holds the item: the read must not return it.
    assert store.get_token(record.token_hash, record.expires_at) is None
    assert store.get_token(hash_token("other"), NOW) is None


def test_a_jti_is_claimed_once(store: DynamoAuthStore) -> None:
    assert store.put_jti_if_absent(API_KEY, "b7ae4c12-3c04-465a-8877-c2e80f0126a3", int(NOW) + 60, NOW)
    assert not store.put_jti_if_absent(API_KEY, "b7ae4c12-3c04-465a-8877-c2e80f0126a3", int(NOW) + 60, NOW + 1)
    # Per application:
    assert store.put_jti_if_absent(
        "Another0000000000000000000000001", "b7ae4c12-3c04-465a-8877-c2e80f0126a3", int(NOW) + 60, NOW
    )


def test_an_expired_jti_item_does_not_block(store: DynamoAuthStore) -> None:
    assert store.put_jti_if_absent(API_KEY, "jti", int(NOW) + 60, NOW)
    assert not store.put_jti_if_absent(API_KEY, "jti", int(NOW) + 120, NOW + 59)
    assert store.put_jti_if_absent(API_KEY, "jti", int(NOW) + 180, NOW + 60)


def test_any_jti_string_is_a_valid_key(store: DynamoAuthStore) -> None:
    huge = "x" * 5000 + "\u00e9\u2603"
    assert store.put_jti_if_absent(API_KEY, huge, int(NOW) + 60, NOW)
    assert not store.put_jti_if_absent(API_KEY, huge, int(NOW) + 60, NOW)


def test_the_jti_write_is_one_conditional_put(table: str, ddb: Any) -> None:
    """Atomicity is DynamoDB's conditional write; moto does not serialise concurrent writers, so
    this checks the request we send rather than racing threads against moto."""
    sent: list[dict[str, Any]] = []
    ddb.meta.events.register("provide-client-params.dynamodb.PutItem", lambda params, **_: sent.append(params))
    store = DynamoAuthStore(table, client=ddb)
    assert store.put_jti_if_absent(API_KEY, "jti", int(NOW) + 60, NOW)
    assert not store.put_jti_if_absent(API_KEY, "jti", int(NOW) + 60, NOW)
    assert len(sent) == 2
    assert sent[0]["ConditionExpression"] == "attribute_not_exists(pk) OR expires_at <= :now"
    assert sent[0]["ExpressionAttributeValues"] == {":now": {"N": str(NOW)}}


def test_get_auth_store_seeds_from_the_apps_file(table: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed = tmp_path / "apps.json"
    entry = {
        "api_key": "SeedKey0000000000000000000000001",
        "name": "Seeded",
        "ods_codes": ["A1001"],
        "kid": "Seed-INT-1",
        "public_key_pem": key_pair("a").public_pem,
    }
    seed.write_text(json.dumps([entry]))
    monkeypatch.setenv("TKW_APPS_FILE", str(seed))
    reset_auth_stores()
    try:
        store = get_auth_store(table)
        assert get_auth_store(table) is store
        app = store.get_app("SeedKey0000000000000000000000001", NOW)
        assert app is not None and app.kids == ["Seed-INT-1"] and app.expires_at is None
    finally:
        reset_auth_stores()
