"""The portal function: its page and files, content types, caching, unknown files; and the JSON link it uses."""

from __future__ import annotations

import copy
import json
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from bars_support import ROOT, answered, organisation, proxy_headers

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit" / "reports"))
from reports_support import booking_report

from tkw import portal
from tkw.access import OPEN
from tkw.http import ApiRequest
from tkw.reports import api, save_report
from tkw.reports.memory import InMemoryReportStore
from tkw_local.backend import Resolver
from tkw_local.functions import LoadedFunction

EVENTS = ROOT / "events"

download_report = answered(api.download_report)


def event(path: str, *, headers: dict[str, str] | None = None, query: dict[str, str] | None = None) -> dict[str, Any]:
    base = json.loads((EVENTS / ("portal_page.json" if path == "/tkw/portal" else "portal_asset.json")).read_text())
    made = copy.deepcopy(base)
    made["path"] = path
    made["requestContext"]["path"] = path
    if path != "/tkw/portal":
        made["pathParameters"] = {"asset": path.rsplit("/", 1)[-1]}
    for name, value in (headers or {}).items():
        made["headers"][name] = value
        made["multiValueHeaders"][name] = [value]
    made["queryStringParameters"] = query or None
    made["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    return made


@pytest.fixture
def invoke(aws: Resolver, functions: dict[str, LoadedFunction]) -> Any:
    def call(path: str, **kwargs: Any) -> tuple[int, dict[str, str], str]:
        result = functions["PortalFunction"].invoke(event(path, **kwargs))
        return int(result["statusCode"]), proxy_headers(result), str(result.get("body") or "")

    return call


def test_the_page_is_html_revalidated_and_locked_down(invoke: Any) -> None:
    status, headers, body = invoke("/tkw/portal")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    assert headers["ETag"].startswith('"')
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "frame-src 'self' blob:" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    # What a person sees first, and no asset from anywhere but here.
    assert "<title>TKW Portal (emulated)</title>" in body
    for label in ("Sender reports", "Receive requests", "Receiver reports", "Stateful", "Organisation ODS code"):
        assert label in body
    assert "{{asset:" not in body
    assert not re.search(r"""(src|href)=["']https?://""", body), "the page loads nothing from the network"


def test_the_page_names_its_files_by_content_hash_and_they_cache_for_a_year(invoke: Any) -> None:
    _, _, page = invoke("/tkw/portal")
    refs = dict(re.findall(r'"portal/([\w.-]+)\?v=([0-9a-f]{16})"', page))
    assert set(refs) == {"portal.js", "portal.css", "favicon.svg"}
    for name, version in refs.items():
        status, headers, body = invoke(f"/tkw/portal/{name}", query={"v": version})
        assert status == 200, name
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert headers["ETag"] == f'"{version}"'
        assert body
    # The same file without (or with an old) version is cached only briefly.
    status, headers, _ = invoke("/tkw/portal/portal.js", query={"v": "0000000000000000"})
    assert (status, headers["Cache-Control"]) == (200, "public, max-age=300")


@pytest.mark.parametrize(
    ("name", "content_type", "marker"),
    [
        ("portal.js", "text/javascript; charset=utf-8", "/tkw/reports"),
        ("portal.css", "text/css; charset=utf-8", ":focus-visible"),
        ("favicon.svg", "image/svg+xml", "<svg"),
    ],
)
def test_each_file_has_its_content_type(invoke: Any, name: str, content_type: str, marker: str) -> None:
    status, headers, body = invoke(f"/tkw/portal/{name}")
    assert status == 200
    assert headers["Content-Type"] == content_type
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert marker in body


def test_a_matching_etag_gets_304_without_a_body(invoke: Any) -> None:
    _, headers, _ = invoke("/tkw/portal/portal.css")
    status, again, body = invoke("/tkw/portal/portal.css", headers={"If-None-Match": headers["ETag"]})
    assert (status, body) == (304, "")
    assert again["ETag"] == headers["ETag"]
    _, page_headers, _ = invoke("/tkw/portal")
    assert invoke("/tkw/portal", headers={"If-None-Match": page_headers["ETag"]})[0] == 304
    assert invoke("/tkw/portal", headers={"If-None-Match": '"stale"'})[0] == 200


@pytest.mark.parametrize("name", ["nope.js", "__init__.py", "index.txt", "..%2F__init__.py", "static"])
def test_unknown_files_are_404_and_say_what_exists(invoke: Any, name: str) -> None:
    status, headers, body = invoke(f"/tkw/portal/{name}")
    assert status == 404
    assert headers["Content-Type"] == "application/json"
    message = json.loads(body)["message"]
    assert "portal.js" in message and "portal.css" in message


@pytest.mark.parametrize("path", ["/tkw/portal/index.html", "/tkw/portal/"])
def test_other_spellings_of_the_page_redirect_to_it(invoke: Any, path: str) -> None:
    # The page links its files relative to /tkw/portal: served at another path, they would not load.
    status, headers, _ = invoke(path)
    assert status == 308
    assert headers["Location"] == "../portal"


def test_the_page_loads_without_a_token_in_int_mode(invoke: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from tkw.services import get_services
    from tkw.settings import get_settings

    monkeypatch.setenv("AUTH_MODE", "int")
    get_settings.cache_clear()
    get_services.cache_clear()
    try:
        assert invoke("/tkw/portal")[0] == 200
        assert invoke("/tkw/portal/portal.js")[0] == 200
    finally:
        get_settings.cache_clear()
        get_services.cache_clear()


def test_every_static_file_is_served_and_nothing_else() -> None:
    static = Path(portal.__file__).parent / "static"
    on_disk = {p.name for p in static.iterdir() if p.is_file()}
    assert on_disk == set(portal.ASSETS) | {portal.INDEX}


# -- GET /tkw/reports/{id}/download?link=json: the shareable link, readable by a page ---------------


def link_request(report_id: str, ods: str = "A1001", **query: str) -> ApiRequest:
    headers = {"x-request-id": (str(uuid.uuid4()),), "nhsd-end-user-organisation": (organisation(ods),)}
    return ApiRequest(
        method="GET",
        path=f"/tkw/reports/{report_id}/download",
        headers=headers,
        query={k: (v,) for k, v in query.items()},
        path_params={"id": report_id},
    )


def test_link_json_answers_the_presigned_link_instead_of_redirecting() -> None:
    store = InMemoryReportStore(link_expiry_seconds=600)
    record = booking_report()
    save_report(store, record)
    now = record.time.timestamp() + 60

    redirect = download_report(link_request(record.id), OPEN, store, now=now)
    answer = download_report(link_request(record.id, link="json"), OPEN, store, now=now)
    assert redirect.status == 302
    assert answer.status == 200
    assert answer.content_type == "application/json"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.body == {"id": record.id, "format": "html", "url": redirect.headers["Location"], "expires_in": 600}
    as_json = download_report(link_request(record.id, link="json", format="json"), OPEN, store, now=now)
    assert as_json.body["format"] == "json" and as_json.body["url"].endswith(".json?expires=" + str(int(now) + 600))


def test_link_json_keeps_the_organisation_boundary_and_checks_its_value() -> None:
    store = InMemoryReportStore()
    record = booking_report()
    save_report(store, record)
    now = record.time.timestamp() + 60
    assert download_report(link_request(record.id, ods="B2002", link="json"), OPEN, store, now=now).status == 404
    wrong = download_report(link_request(record.id, link="xml"), OPEN, store, now=now)
    assert wrong.status == 400
    assert "link must be json" in json.dumps(wrong.body)
