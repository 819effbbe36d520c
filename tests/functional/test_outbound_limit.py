"""Per-organisation hourly limits on what a stack sends out (receiver runs, asynchronous responses),
counted in DynamoDB (moto) with one conditional update each: per organisation and per kind, reset each hour."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from tkw.adapters.outbound_counter import DynamoOutboundCounter
from tkw.fhir.outcome import BarsError
from tkw.outbound_limits import OutboundKind, admit
from tkw.settings import Settings

HOUR_START = 1_790_002_800  # a whole hour (epoch seconds divisible by 3600)
SETTINGS = Settings(receiver_runs_per_hour=3, async_responses_per_hour=5)


@pytest.fixture
def counter(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoOutboundCounter]:
    for name in ("AWS_ENDPOINT_URL", "TKW_AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    import boto3

    from tkw.adapters.aws import reset_clients

    with mock_aws():
        reset_clients()
        boto3.client("dynamodb").create_table(
            TableName="tkw-outbound",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield DynamoOutboundCounter("tkw-outbound")
        reset_clients()


def test_the_hours_budget_then_429_with_retry_after(counter: DynamoOutboundCounter) -> None:
    for minute in range(3):
        admit(counter, "A1001", OutboundKind.RECEIVER_RUN, SETTINGS, HOUR_START + 60 * minute)
    with pytest.raises(BarsError) as refused:
        admit(counter, "A1001", OutboundKind.RECEIVER_RUN, SETTINGS, HOUR_START + 600)
    assert refused.value.status == 429
    issue = refused.value.outcome()["issue"][0]
    assert issue["code"] == "throttled"
    assert issue["details"]["coding"][0]["code"] == "SEND_TOO_MANY_REQUESTS"
    assert refused.value.headers["Retry-After"] == str(3600 - 600)
    # The next hour starts afresh.
    admit(counter, "A1001", OutboundKind.RECEIVER_RUN, SETTINGS, HOUR_START + 3600)


def test_budgets_are_per_organisation_and_per_kind(counter: DynamoOutboundCounter) -> None:
    for _ in range(3):
        admit(counter, "A1001", OutboundKind.RECEIVER_RUN, SETTINGS, HOUR_START)
    admit(counter, "B2002", OutboundKind.RECEIVER_RUN, SETTINGS, HOUR_START)  # another organisation
    for _ in range(5):
        admit(counter, "A1001", OutboundKind.ASYNC_RESPONSE, SETTINGS, HOUR_START)  # another kind
    with pytest.raises(BarsError):
        admit(counter, "A1001", OutboundKind.ASYNC_RESPONSE, SETTINGS, HOUR_START)


def test_the_count_is_one_item_per_organisation_kind_and_hour_with_a_ttl(counter: DynamoOutboundCounter) -> None:
    import boto3

    for _ in range(2):
        admit(counter, "C3003", OutboundKind.ASYNC_RESPONSE, SETTINGS, HOUR_START + 5)
    items = boto3.client("dynamodb").scan(TableName="tkw-outbound")["Items"]
    assert [(i["pk"]["S"], i["sk"]["S"], i["sent"]["N"]) for i in items] == [
        ("OUTBOUND#C3003", f"async-response#{HOUR_START}", "2")
    ]
    assert int(items[0]["expires_at"]["N"]) > HOUR_START + 3600  # deleted by TTL after the hour
