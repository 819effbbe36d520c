"""The /tkw/reports API functions on moto: listing, reading, downloading, zipping, isolation."""

from __future__ import annotations

import json
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit" / "reports"))
from bars_support import answered, assert_outcome, b64json, organisation
from reports_support import BUCKET, TABLE, booking_report, create_resources, moto_server

from tkw.access import OPEN
from tkw.adapters.report_store import S3ReportStore
from tkw.http import ApiRequest, ApiResponse
from tkw.reports import ReportRecord, api, save_report

list_reports = answered(api.list_reports)
get_report = answered(api.get_report)
download_report = answered(api.download_report)
download_zip = answered(api.download_zip)

DAY = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
NOW = DAY.timestamp() + 3600


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3ReportStore]:
    for name in ("AWS_ENDPOINT_URL", "TKW_AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    from tkw.adapters.aws import reset_clients

    with mock_aws():
        reset_clients()
        create_resources()
        yield S3ReportStore(TABLE, BUCKET)
        reset_clients()


@pytest.fixture
def reports(store: S3ReportStore) -> list[ReportRecord]:
    """Three reports of A1001 (the middle one failed) and one of B2002."""
    records = [booking_report(time=DAY + timedelta(minutes=i), broken=i == 1) for i in range(3)]
    records.append(booking_report(ods="B2002", time=DAY))
    for record in records:
        save_report(store, record)
    return records


def call(
    path: str = "/tkw/reports",
    *,
    ods: str | None = "A1001",
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: Any = None,
    method: str = "GET",
) -> ApiRequest:
    sent = {"X-Request-Id": str(uuid.uuid4())} | ({"NHSD-End-User-Organisation": organisation(ods)} if ods else {})
    sent |= headers or {}
    parts = path.strip("/").split("/")
    path_params = {"id": parts[2]} if len(parts) > 2 and parts[2] != "download" else {}
    return ApiRequest(
        method=method,
        path=path,
        headers={k.lower(): (v,) for k, v in sent.items()},
        query={k: (v,) for k, v in (query or {}).items()},
        path_params=path_params,
        body=json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body,
        base_url="https://tkw.example",
    )


def as_json(response: ApiResponse) -> Any:
    return json.loads(response.body_text())


# -- the organisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "code", "fragment"),
    [
        (None, "required", "is missing"),
        ("%%%", "invalid", "could not be decoded"),
        (b64json({"resourceType": "Organization", "identifier": []}), "invalid", "could not be decoded"),
        (organisation("A/1#"), "value", "is not an ODS code"),
    ],
)
def test_organisation_header_is_required_and_explained(
    store: S3ReportStore, header: str | None, code: str, fragment: str
) -> None:
    headers = {"NHSD-End-User-Organisation": header} if header else {}
    request = call(ods=None, headers=headers)
    for response in (
        list_reports(request, OPEN, store, NOW),
        get_report(call("/tkw/reports/x", ods=None, headers=headers), OPEN, store, now=NOW),
        download_zip(
            call("/tkw/reports/download", ods=None, headers=headers, body={"ids": ["x"]}, method="POST"),
            OPEN,
            store,
            NOW,
        ),
    ):
        assert response.status == 400
        issue = assert_outcome(as_json(response), "REC_BAD_REQUEST", code)
        assert fragment in issue["diagnostics"] and "NHSD-End-User-Organisation" in issue["diagnostics"]


# -- listing ------------------------------------------------------------------------------------


def test_list_shows_only_my_reports_newest_first(reports: list[ReportRecord], store: S3ReportStore) -> None:
    response = list_reports(call(), OPEN, store, NOW)
    assert response.status == 200 and response.content_type == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = as_json(response)
    assert body["organisation"] == "A1001" and body["count"] == 3
    assert [r["id"] for r in body["reports"]] == [reports[2].id, reports[1].id, reports[0].id]
    first = body["reports"][0]
    assert first["links"] == {
        "self": f"https://tkw.example/tkw/reports/{reports[2].id}",
        "html": f"https://tkw.example/tkw/reports/{reports[2].id}?format=html",
        "download": f"https://tkw.example/tkw/reports/{reports[2].id}/download",
    }
    other = as_json(list_reports(call(ods="B2002"), OPEN, store, NOW))
    assert [r["id"] for r in other["reports"]] == [reports[3].id]


def test_list_filters(reports: list[ReportRecord], store: S3ReportStore) -> None:
    failed = as_json(list_reports(call(query={"verdict": "fail"}), OPEN, store, NOW))
    assert [r["id"] for r in failed["reports"]] == [reports[1].id]
    window = {"since": "2026-01-31T09:31:00Z", "until": "2026-01-31T09:32:00+00:00"}
    assert [r["id"] for r in as_json(list_reports(call(query=window), OPEN, store, NOW))["reports"]] == [
        reports[2].id,
        reports[1].id,
    ]
    assert as_json(list_reports(call(query={"until": "2026-01-30"}), OPEN, store, NOW))["count"] == 0
    assert as_json(list_reports(call(query={"since": "2026-01-31"}), OPEN, store, NOW))["count"] == 3
    by_correlation = call(query={"correlation_id": reports[0].correlation_id or ""})
    assert [r["id"] for r in as_json(list_reports(by_correlation, OPEN, store, NOW))["reports"]] == [reports[0].id]


def test_list_pages(reports: list[ReportRecord], store: S3ReportStore) -> None:
    first = as_json(list_reports(call(query={"limit": "2"}), OPEN, store, NOW))
    assert first["count"] == 2 and first["next_page_token"]
    second = as_json(list_reports(call(query={"limit": "2", "page_token": first["next_page_token"]}), OPEN, store, NOW))
    assert [r["id"] for r in first["reports"] + second["reports"]] == [reports[i].id for i in (2, 1, 0)]


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ({"verdict": "ok"}, "verdict must be one of"),
        ({"since": "yesterday"}, "not an ISO 8601"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "window is empty"),
        ({"limit": "0"}, "limit must be"),
        ({"limit": "1000"}, "limit must be"),
        ({"page_token": "bogus"}, "page_token"),
    ],
)
def test_bad_list_parameters_are_400(store: S3ReportStore, query: dict[str, str], fragment: str) -> None:
    response = list_reports(call(query=query), OPEN, store, NOW)
    assert response.status == 400
    assert fragment in assert_outcome(as_json(response), "REC_BAD_REQUEST")["diagnostics"]


# -- one report ---------------------------------------------------------------------------------


def test_get_report_as_json_and_html(reports: list[ReportRecord], store: S3ReportStore) -> None:
    record = reports[1]
    response = get_report(call(f"/tkw/reports/{record.id}"), OPEN, store, now=NOW)
    assert response.status == 200 and response.content_type == "application/json"
    assert ReportRecord.model_validate(as_json(response)) == record
    for request in (
        call(f"/tkw/reports/{record.id}", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}),
        call(f"/tkw/reports/{record.id}", query={"format": "html"}),
    ):
        html = get_report(request, OPEN, store, now=NOW)
        assert html.status == 200 and html.content_type.startswith("text/html")
        assert ">Failed</span>" in html.body_text() and record.id in html.body_text()


def test_another_organisations_report_is_not_found(reports: list[ReportRecord], store: S3ReportStore) -> None:
    theirs = reports[3].id
    for response in (
        get_report(call(f"/tkw/reports/{theirs}"), OPEN, store, now=NOW),
        download_report(call(f"/tkw/reports/{theirs}/download"), OPEN, store, theirs, NOW),
        get_report(call("/tkw/reports/00000000-0000-4000-8000-000000000000"), OPEN, store, now=NOW),
    ):
        assert response.status == 404
        assert_outcome(as_json(response), "REC_NOT_FOUND", "not-found")


def test_download_redirects_to_a_short_lived_link(reports: list[ReportRecord], store: S3ReportStore) -> None:
    record = reports[0]
    response = download_report(call(f"/tkw/reports/{record.id}/download"), OPEN, store, record.id, NOW)
    assert response.status == 302 and response.body is None
    location = response.headers["Location"]
    assert f"/reports/A1001/2026/01/31/{record.id}.html?" in location and "X-Amz-Expires=900" in location
    as_json_link = download_report(
        call(f"/tkw/reports/{record.id}/download", query={"format": "json"}), OPEN, store, record.id, NOW
    )
    assert f"{record.id}.json?" in as_json_link.headers["Location"]
    pdf = call(f"/tkw/reports/{record.id}/download", query={"format": "pdf"})
    bad = download_report(pdf, OPEN, store, record.id, NOW)
    assert bad.status == 400


# -- zips ---------------------------------------------------------------------------------------


def test_zip_of_chosen_reports(reports: list[ReportRecord], store: S3ReportStore) -> None:
    ids = [reports[0].id, reports[2].id, reports[3].id]  # the last is B2002's
    response = download_zip(call("/tkw/reports/download", method="POST", body={"ids": ids}), OPEN, store, NOW)
    assert response.status == 201
    body = as_json(response)
    assert body["count"] == 2 and body["report_ids"] == [reports[2].id, reports[0].id]
    assert body["not_found"] == [reports[3].id]
    assert body["expires_in"] == 900 and f"/zips/A1001/{body['id']}.zip?" in body["url"]
    assert response.headers["Location"] == body["url"]


def test_zip_of_a_time_window(reports: list[ReportRecord], store: S3ReportStore) -> None:
    window = {"since": "2026-01-31T09:31:00Z", "until": "2026-01-31T23:59:59Z"}
    body = as_json(download_zip(call("/tkw/reports/download", method="POST", body=window), OPEN, store, NOW))
    assert body["report_ids"] == [reports[2].id, reports[1].id]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"not json", 400, "must be a JSON object"),
        ({}, 400, "Say which reports"),
        ({"ids": []}, 400, "non-empty list"),
        ({"ids": ["x"] * 201}, 400, "at most 200"),
        ({"since": "whenever"}, 400, "not an ISO 8601"),
        ({"ids": ["00000000-0000-4000-8000-000000000000"]}, 404, "None of the requested reports"),
        ({"since": "2020-01-01", "until": "2020-01-02"}, 404, "None of the requested reports"),
    ],
)
def test_bad_zip_requests(
    reports: list[ReportRecord], store: S3ReportStore, body: Any, status: int, fragment: str
) -> None:
    response = download_zip(call("/tkw/reports/download", method="POST", body=body), OPEN, store, NOW)
    assert response.status == status
    assert fragment in as_json(response)["issue"][0]["diagnostics"]


def test_zip_of_another_organisations_reports_is_not_found(reports: list[ReportRecord], store: S3ReportStore) -> None:
    response = download_zip(
        call("/tkw/reports/download", ods="B2002", method="POST", body={"ids": [reports[0].id]}), OPEN, store, NOW
    )
    assert response.status == 404


# -- end to end over moto's HTTP server ---------------------------------------------------------


def test_download_link_can_be_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    with moto_server(monkeypatch):
        create_resources()
        store = S3ReportStore(TABLE, BUCKET)
        record = booking_report(time=DAY)
        save_report(store, record)
        response = download_report(
            call(f"/tkw/reports/{record.id}/download", query={"format": "json"}), OPEN, store, record.id, NOW
        )
        with urllib.request.urlopen(response.headers["Location"], timeout=10) as fetched:
            assert ReportRecord.model_validate(json.loads(fetched.read())) == record


# -- the Lambda handler, with the template's own table and bucket -------------------------------


def reports_event(method: str, path: str, resource: str, ods: str = "A1001", **kwargs: Any) -> dict[str, Any]:
    from tkw_local.functions import rest_proxy_event

    parts = path.strip("/").split("/")
    return rest_proxy_event(
        method=method,
        path=path,
        resource=resource,
        path_parameters={"id": parts[2]} if "{id}" in resource else {},
        headers=[
            ("Host", "127.0.0.1:3000"),
            ("X-Forwarded-Proto", "http"),
            ("X-Request-Id", str(uuid.uuid4())),
            ("NHSD-End-User-Organisation", organisation(ods)),
            *kwargs.get("headers", []),
        ],
        query=kwargs.get("query", []),
        body=kwargs.get("body", b""),
        stage="v1",
        source_ip="127.0.0.1",
    )


def test_reports_function_serves_every_route(aws: Any, functions: dict[str, Any]) -> None:
    from tkw.adapters.report_store import report_store_for
    from tkw.services import get_services

    store = report_store_for(get_services().settings)
    record = booking_report(time=datetime.now(UTC))
    save_report(store, record)
    function = functions["ReportsFunction"]

    listed = function.invoke(reports_event("GET", "/tkw/reports", "/tkw/reports"))
    assert listed["statusCode"] == 200, listed["body"]
    assert [r["id"] for r in json.loads(listed["body"])["reports"]] == [record.id]

    read = function.invoke(reports_event("GET", f"/tkw/reports/{record.id}", "/tkw/reports/{id}"))
    assert read["statusCode"] == 200 and json.loads(read["body"])["id"] == record.id

    html = function.invoke(
        reports_event("GET", f"/tkw/reports/{record.id}", "/tkw/reports/{id}", headers=[("Accept", "text/html")])
    )
    assert html["statusCode"] == 200 and "<!DOCTYPE html>" in html["body"]

    other = function.invoke(reports_event("GET", f"/tkw/reports/{record.id}", "/tkw/reports/{id}", ods="B2002"))
    assert other["statusCode"] == 404

    download = function.invoke(reports_event("GET", f"/tkw/reports/{record.id}/download", "/tkw/reports/{id}/download"))
    assert download["statusCode"] == 302
    location = (download.get("multiValueHeaders") or {}).get("Location", [None])[0] or download["headers"]["Location"]
    assert f"{record.id}.html" in location

    zipped = function.invoke(
        reports_event(
            "POST", "/tkw/reports/download", "/tkw/reports/download", body=json.dumps({"ids": [record.id]}).encode()
        )
    )
    assert zipped["statusCode"] == 201, zipped["body"]
    assert json.loads(zipped["body"])["report_ids"] == [record.id]
