"""Report records for tests: from a real validation of a real exchange."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from bars_support import BASE, bars_headers, example, with_use_case

from tkw.encoded_headers import TargetIdentifier
from tkw.http import ApiRequest, ApiResponse
from tkw.reports import ReportRecord, build_report
from tkw.routes import Operation
from tkw.validation import ValidationInput, validate

DOS = "https://fhir.nhs.uk/Id/dos-service-id"
TABLE, BUCKET, REGION = "tkw-test", "tkw-test-reports", "eu-west-2"


def create_resources(table: str = TABLE, bucket: str = BUCKET) -> None:
    """The table (pk/sk, on demand) and the bucket, as the template declares them."""
    import boto3

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
    )


def booking_exchange(
    *, broken: bool = False, ods: str = "A1001", **header_changes: str
) -> tuple[ApiRequest, ApiResponse, dict[str, Any]]:
    bundle = with_use_case(example("process_message/POST-body.json"))
    if broken:
        bundle["type"] = "batch"
        bundle["entry"][2]["resource"]["birthDate"] = "yesterday"
    headers = bars_headers(target_value="111111111", ods=ods) | {
        "Authorization": "Bearer s3cr3t-token-value",
        "Content-Type": "application/fhir+json",
        "use-context": "a1t1|booking|booking-request|new",
    }
    headers |= header_changes
    request = ApiRequest(
        method="POST",
        path=BASE + "/$process-message",
        headers={k.lower(): (v,) for k, v in headers.items()},
        body=json.dumps(bundle).encode(),
        base_url="http://127.0.0.1:3000",
        request_time_epoch_ms=1_767_225_600_000,  # 2026-01-01T00:00:00Z
    )
    response = ApiResponse(200, bundle, headers={"X-Request-Id": headers["X-Request-Id"]})
    return request, response, bundle


def booking_report(
    *, broken: bool = False, ods: str = "A1001", time: datetime | None = None, scenario: str | None = "booking-new"
) -> ReportRecord:
    request, response, bundle = booking_exchange(broken=broken, ods=ods)
    target = TargetIdentifier(DOS, "111111111")
    findings = validate(ValidationInput(Operation.PROCESS_MESSAGE, request, bundle, target))
    return build_report(
        request=request,
        response=response,
        findings=findings,
        organisation=ods,
        target=target,
        operation=Operation.PROCESS_MESSAGE,
        scenario=scenario,
        time=time or datetime(2026, 1, 1, tzinfo=UTC),
    )


@contextmanager
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto as a real HTTP server that boto3 points at, so presigned links download over HTTP."""
    from moto.server import ThreadedMotoServer

    from tkw.adapters.aws import reset_clients

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        for name in ("TKW_AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        reset_clients()
        yield f"http://{host}:{port}"
    finally:
        reset_clients()
        server.stop()
