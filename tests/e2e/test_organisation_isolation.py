"""int mode over real HTTP: two applications bound to different organisations cannot see or change
each other's reports, receiver runs, state, shares, response endpoints or responses through any
``/tkw`` route.

Application A acts for ORG_A, application B for ORG_B. A files a report, starts a receiver run,
moves its stateful state, shares its report and registers an endpoint for responses. Then every
``/tkw`` route that touches an organisation's data is called by B, twice: naming A's organisation
in ``NHSD-End-User-Organisation``, and naming its own organisation with A's ids. Each answer must be
the very 404 that a record that does not exist gets (no oracle), and A's data must be unchanged
afterwards. The same calls made by A succeed, so the table cannot pass by everything failing.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from bars_support import assert_outcome, bars_headers, example
from emulator_support import Emulator, HttpResult, start_emulator, stop_emulator
from unit.stateful.stateful_bundles import booking_new

from tkw.auth.client import fetch_token, generate_key_pair, register_app

ORG_A, ORG_B = "ISOA01", "ISOB02"
STATEFUL_PATIENT = "9707606312"


@dataclass
class App:
    name: str
    ods: str
    token: str

    def headers(self, ods: str | None = None, **extra: str) -> dict[str, str]:
        return bars_headers(ods=ods or self.ods) | {"Authorization": f"Bearer {self.token}"} | extra


@dataclass
class World:
    emulator: Emulator
    a: App
    b: App
    report: str  # A's report, filed under ORG_A
    report_b_header: str  # filed by A's BaRS call naming ORG_B: B's organisation, never A's to read
    run: str  # A's receiver run
    share_id: str
    share_url: str


def call(world: World, app: App, method: str, path: str, ods: str | None = None, body: Any = None) -> HttpResult:
    headers = app.headers(ods)
    raw = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        raw = json.dumps(body).encode()
    return world.emulator.request(method, path, headers, raw)


def new_app(emulator: Emulator, name: str, ods: str) -> App:
    private_pem, public_pem = generate_key_pair(bits=2048)
    kid = f"{name}-INT-1"
    api_key = register_app(emulator.root, name, kid, public_pem, [ods])["api_key"]
    token = fetch_token(private_pem, kid, api_key, emulator.root + "/oauth2/token").access_token
    return App(name=name, ods=ods, token=token)


def register_endpoint(emulator: Emulator, app: App) -> HttpResult:
    # The emulator itself stands in for A's endpoint (private addresses are allowed locally).
    body = json.dumps({"url": emulator.base}).encode()
    return emulator.request("PUT", "/tkw/endpoints/default", app.headers(**{"Content-Type": "application/json"}), body)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    emulator = start_emulator({"AUTH_MODE": "int"})
    try:
        a, b = new_app(emulator, "IsolationA", ORG_A), new_app(emulator, "IsolationB", ORG_B)
        booking = json.dumps(example("process_message/POST-body.json")).encode()
        fhir = {"Content-Type": "application/fhir+json"}
        sent = emulator.bars("POST", "/$process-message", a.headers(**fhir), booking)
        assert sent.status == 200, sent.raw[:300]
        report = sent.header("TKW-Report-Id")
        # BaRS calls behave as API-M: the header is not checked against the token...
        other = emulator.bars("POST", "/$process-message", a.headers(ORG_B, **fhir), booking)
        assert other.status == 200
        stateful = json.dumps(booking_new()).encode()
        assert emulator.bars("POST", "/$process-message", a.headers(**fhir), stateful).status == 200
        started = emulator.request(
            "POST",
            "/tkw/receiver-runs",
            a.headers(**{"Content-Type": "application/json"}),
            json.dumps(
                {"endpoint": emulator.base, "target_identifier": "2000072489", "tests": ["a1-capability-statement"]}
            ).encode(),
        )
        assert started.status == 202, started.raw[:300]
        share = emulator.request("POST", f"/tkw/reports/{report}/share", a.headers())
        assert share.status == 201, share.raw[:300]
        registered = register_endpoint(emulator, a)
        assert registered.status == 201, registered.raw[:300]
        yield World(
            emulator=emulator,
            a=a,
            b=b,
            report=str(report),
            report_b_header=str(other.header("TKW-Report-Id")),
            run=started.json["run_id"],
            share_id=share.json["id"],
            share_url=share.json["url"],
        )
    finally:
        stop_emulator(emulator)


@dataclass(frozen=True)
class Route:
    """One /tkw route that touches an organisation's data, and how to ask it about A's."""

    name: str
    method: str
    path: str  # {report}, {run}, {share}: A's ids; {missing}: an id nobody has
    body: dict[str, Any] | None = None
    # What A itself gets (the positive control).
    owner_status: int = 200


ROUTES = [
    Route("list reports", "GET", "/tkw/reports"),
    Route("read a report", "GET", "/tkw/reports/{report}"),
    Route("read a report as HTML", "GET", "/tkw/reports/{report}?format=html"),
    Route("download a report", "GET", "/tkw/reports/{report}/download?link=json"),
    Route("zip reports", "POST", "/tkw/reports/download", {"ids": ["{report}"]}, owner_status=201),
    Route("share a report", "POST", "/tkw/reports/{report}/share", owner_status=201),
    Route("share a zip", "POST", "/tkw/reports/share", {"ids": ["{report}"]}, owner_status=201),
    Route("list receiver runs", "GET", "/tkw/receiver-runs"),
    Route("read a receiver run", "GET", "/tkw/receiver-runs/{run}"),
    Route("read the state", "GET", "/tkw/state"),
    Route("list shares", "GET", "/tkw/shares"),
    Route("withdraw a share", "DELETE", "/tkw/shares/{share}", owner_status=204),
    Route("list endpoints", "GET", "/tkw/endpoints"),
    Route("register an endpoint", "PUT", "/tkw/endpoints/default", {"url": "{base}"}),
    Route("ping an endpoint", "POST", "/tkw/endpoints/default/ping"),
    Route("remove an endpoint", "DELETE", "/tkw/endpoints/default", owner_status=204),
    Route("send a response", "POST", "/tkw/responses", {"report_id": "{report}", "kind": "interim"}, owner_status=202),
]
# Routes whose path names no record: B asking about A's organisation must get what it gets for an
# organisation nobody uses. Routes with an id: what B gets for an id that does not exist.
WITH_ID = [r for r in ROUTES if "{" in r.path or (r.body and "{report}" in json.dumps(r.body))]


def fill(world: World, text: str, missing: bool = False) -> str:
    ids = {"report": world.report, "run": world.run, "share": world.share_id, "base": world.emulator.base}
    if missing:
        ids = {"report": str(uuid.uuid4()), "run": str(uuid.uuid4()), "share": "0" * 64, "base": world.emulator.base}
    for key, value in ids.items():
        text = text.replace("{" + key + "}", value)
    return text


def ask(world: World, app: App, route: Route, ods: str | None = None, missing: bool = False) -> HttpResult:
    body = json.loads(fill(world, json.dumps(route.body), missing)) if route.body is not None else None
    return call(world, app, route.method, fill(world, route.path, missing), ods, body)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_b_naming_as_organisation_gets_the_404_of_an_unused_one(world: World, route: Route) -> None:
    theirs = ask(world, world.b, route, ods=ORG_A)
    nobodys = ask(world, world.b, route, ods="ISONONE9")
    assert theirs.status == 404, theirs.raw[:300]
    assert _shape(theirs, world) == _shape(nobodys, world)
    assert world.a.token not in theirs.raw.decode("utf-8", "replace")


@pytest.mark.parametrize("route", WITH_ID, ids=lambda r: r.name)
def test_b_asking_for_as_ids_under_its_own_organisation_gets_the_404_of_a_missing_id(
    world: World, route: Route
) -> None:
    theirs = ask(world, world.b, route)
    missing = ask(world, world.b, route, missing=True)
    assert theirs.status == 404, theirs.raw[:300]
    assert _shape(theirs, world) == _shape(missing, None)


def _shape(result: HttpResult, world: World | None) -> tuple[int, str]:
    """Status and body with every id-like token blanked (UUIDs, 64-hex share ids, the report ids)."""
    text = result.raw.decode("utf-8", "replace")
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", text)
    text = re.sub(r"[0-9a-f]{64}", "<id>", text)
    if world is not None:
        text = text.replace(world.report, "<id>")
    return result.status, text


def test_b_lists_none_of_as_data_under_its_own_organisation(world: World) -> None:
    reports = call(world, world.b, "GET", "/tkw/reports").json["reports"]
    assert world.report not in [r["id"] for r in reports]
    assert world.run not in [r["run_id"] for r in call(world, world.b, "GET", "/tkw/receiver-runs").json["runs"]]
    assert world.share_id not in [s["id"] for s in call(world, world.b, "GET", "/tkw/shares").json["shares"]]


def test_b_cannot_reset_as_state_or_withdraw_as_share(world: World) -> None:
    before = call(world, world.a, "GET", "/tkw/state").json
    assert before["state"] != "initial", before  # A's stateful booking moved it
    assert call(world, world.b, "DELETE", "/tkw/state", ods=ORG_A).status == 404
    assert call(world, world.a, "GET", "/tkw/state").json == before
    for ods in (ORG_A, ORG_B):
        assert call(world, world.b, "DELETE", f"/tkw/shares/{world.share_id}", ods=ods).status == 404
    opened = world.emulator.request("GET", world.share_url.replace(world.emulator.root, ""))
    assert opened.status == 200
    assert world.report in opened.raw.decode()


def test_a_report_filed_under_another_organisation_is_never_readable_by_the_filer(world: World) -> None:
    for ods in (ORG_A, ORG_B):
        refused = call(world, world.a, "GET", f"/tkw/reports/{world.report_b_header}", ods=ods)
        assert refused.status == 404
        assert_outcome(refused.json, "REC_NOT_FOUND", "not-found")
    # ... it is ORG_B's report: B, bound to ORG_B, reads it.
    assert call(world, world.b, "GET", f"/tkw/reports/{world.report_b_header}").status == 200


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_the_owner_gets_an_answer_on_every_route(world: World, route: Route) -> None:
    if route.method == "DELETE" and route.path.startswith("/tkw/shares"):
        # withdraw a fresh share, not the one the other tests open
        fresh = call(world, world.a, "POST", f"/tkw/reports/{world.report}/share").json["id"]
        result = call(world, world.a, "DELETE", f"/tkw/shares/{fresh}")
    elif route.method == "DELETE":  # remove A's endpoint, then register it again for the other tests
        result = ask(world, world.a, route)
        assert register_endpoint(world.emulator, world.a).status == 201
    else:
        result = ask(world, world.a, route)
    assert result.status == route.owner_status, result.raw[:300]


def test_the_portal_is_offered_only_the_bound_organisations(world: World) -> None:
    answer = world.emulator.request("GET", "/tkw/organisations", {"Authorization": f"Bearer {world.b.token}"})
    assert answer.status == 200
    assert answer.json == {"auth_mode": "int", "application": "IsolationB", "ods_codes": [ORG_B]}
    # Without the header, a single-organisation application acts for that organisation.
    own = world.emulator.request("GET", "/tkw/reports", {"Authorization": f"Bearer {world.b.token}"})
    assert own.status == 200 and own.json["organisation"] == ORG_B


def test_no_token_no_tkw_data(world: World) -> None:
    for route in ROUTES:
        headers = bars_headers(ods=ORG_A)
        result = world.emulator.request(route.method, fill(world, route.path), headers)
        assert result.status == 401, route.name
        assert_outcome(result.json, "SEND_UNAUTHORIZED", "unknown")


def test_a_share_token_never_reaches_the_logs(world: World) -> None:
    made = call(world, world.a, "POST", f"/tkw/reports/{world.report}/share")
    token = made.json["url"].rsplit("/", 1)[1]
    path = made.json["url"].replace(world.emulator.root, "")
    assert world.emulator.request("GET", path).status == 200  # opened without any header
    assert call(world, world.a, "DELETE", f"/tkw/shares/{token}").status == 204
    assert world.emulator.request("GET", path).status == 410
    output = world.emulator.output()
    assert "/tkw/shared/[token]" in output  # the requests were logged, masked
    assert token not in output and world.share_url.rsplit("/", 1)[1] not in output
