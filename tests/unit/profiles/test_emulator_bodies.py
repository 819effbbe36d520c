"""Every body the emulator sends conforms to the profiles: canned resources, the receiver suite's
outgoing messages, every scenario's error OperationOutcome, every error the code raises, the answer of
every row of scenarios.yaml in each edition, and every asynchronous response (issue 15) it sends a
sender, built as the response worker builds it.

The lists come from the data (scenarios.yaml, outbound/responses.yaml), and each test asserts it met
every row, so a new row cannot slip past. Profile errors are those left after the documented quirks
(tkw/profiles/quirks.yaml).
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, get_args

import pytest
from bars_support import (
    BASE,
    DOS,
    EXAMPLES,
    IG_EXAMPLES,
    LIVE_IG_EXAMPLES,
    ROOT,
    assert_conforms_to_profiles,
    assert_valid_fhir,
    for_patient,
    live_example,
)

from tkw.context import RequestContext
from tkw.encoded_headers import TargetIdentifier
from tkw.fhir.outcome import BarsError
from tkw.http import ApiRequest
from tkw.message_kinds import MessageKind
from tkw.outbound.messages import ON_DEMAND_KINDS, ResponseKind, Trigger, build_response, nhs_number_of
from tkw.outbound.messages import load_table as load_responses
from tkw.profiles import validate_body
from tkw.routes import BARS_ROUTES, Operation
from tkw.scenarios.classify import classify
from tkw.scenarios.engine import ScenarioEngine, get_table, load_table
from tkw.scenarios.model import BLANK_NHS_NUMBER, Scenario, ScenarioTable
from tkw.settings import Edition

LAYER = ROOT / "layers" / "tkw" / "tkw"
BODIES = sorted(p for p in LAYER.rglob("*.json") if "profiles" not in p.parts)
# Every error the layer raises in code: BarsError.of(status, "BARS_CODE", "issue-code", ...).
RAISED = re.compile(r'BarsError\.of\(\s*(\d{3}),\s*"([A-Z_]+)",\s*"([a-z-]+)"')


def _raised() -> list[tuple[int, str, str]]:
    found = set()
    for path in LAYER.rglob("*.py"):
        for status, bars_code, issue in RAISED.findall(path.read_text(encoding="utf-8")):
            found.add((int(status), bars_code, issue))
    return sorted(found)


@pytest.mark.parametrize("path", BODIES, ids=[str(p.relative_to(LAYER)) for p in BODIES])
def test_every_shipped_resource_conforms(path: Path) -> None:
    body = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(body, dict) and "resourceType" in body:
        assert_conforms_to_profiles(body)


def test_every_scenario_error_outcome_conforms() -> None:
    errors = [(s.id, s.outcome) for s in load_table().scenarios if s.outcome.error is not None]
    assert len(errors) > 10
    for scenario_id, outcome in errors:
        assert outcome.error is not None
        body = BarsError.of(outcome.status, outcome.error.code, outcome.error.issue, outcome.error.diagnostics)
        try:
            assert_conforms_to_profiles(body.outcome())
        except AssertionError as err:
            raise AssertionError(f"scenario {scenario_id}: {err}") from None


RAISED_ERRORS = _raised()


def test_the_raised_errors_are_found() -> None:
    assert len(RAISED_ERRORS) > 10


@pytest.mark.parametrize(("status", "bars_code", "issue"), RAISED_ERRORS)
def test_every_error_the_code_raises_conforms(status: int, bars_code: str, issue: str) -> None:
    outcome = BarsError.of(status, bars_code, issue, "why", expression="Bundle.entry[0]", header="X-Request-Id")
    assert_conforms_to_profiles(outcome.outcome())


# ---- the answer of every scenario row, in each edition -----------------------------------------------


@cache
def _request_examples() -> list[tuple[str, dict[str, Any]]]:
    """The official and IG request messages with no profile error of their own, by classified kind."""
    found: list[tuple[str, dict[str, Any]]] = []
    folders = (EXAMPLES / "process_message", IG_EXAMPLES, LIVE_IG_EXAMPLES)
    for path in sorted(p for folder in folders for p in folder.rglob("*.json")):
        bundle = json.loads(path.read_text(encoding="utf-8"))
        if not (isinstance(bundle, dict) and bundle.get("type") == "message") or validate_body(bundle).errors:
            continue
        try:
            found.append((classify(bundle).kind, bundle))
        except BarsError:
            continue  # not a message the classifier recognises
    return found


def _of_type(bundle: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type)


def _booking_update() -> dict[str, Any]:
    """A new booking with the MessageHeader reason ``update`` (no IG example is a booking update)."""
    bundle = _message_of_kind("booking-new")
    _of_type(bundle, "MessageHeader")["reason"]["coding"][0]["code"] = "update"
    return bundle


def _referral_cancel() -> dict[str, Any]:
    """A validation cancel (SERVREQ01) with a referral's category (no IG example is a referral cancel)."""
    bundle = _message_of_kind("validation-cancel")
    referral = _of_type(_message_of_kind("referral-new"), "ServiceRequest")
    _of_type(bundle, "ServiceRequest")["category"] = referral["category"]
    return bundle


DERIVED = {"booking-update": _booking_update, "referral-cancel": _referral_cancel}


def _message_of_kind(kind: str) -> dict[str, Any]:
    bundle = next((b for k, b in _request_examples() if k == kind), None)
    if bundle is None and kind in DERIVED:
        bundle = DERIVED[kind]()
        assert classify(bundle).kind == kind
    assert bundle is not None, f"no clean official or IG example is a {kind} message"
    return copy.deepcopy(bundle)


def _unnamed(table: ScenarioTable, key: str, candidates: list[str]) -> str:
    """A value of a match key that no row names (so the row without that key is the one matched)."""
    named = {getattr(s.match, key) for s in table.scenarios}
    return next(c for c in candidates if c not in named)


def _contexts_for(row: Scenario, table: ScenarioTable) -> list[RequestContext]:
    """Requests the row matches: its match keys, and values no row names for the others (a message row
    that names no kind answers every kind: one request of each)."""
    if row.operation == Operation.PROCESS_MESSAGE and row.match.kind is None:
        return [_context_for(row._replace(match=row.match._replace(kind=k)), table) for k in MessageKind]
    return [_context_for(row, table)]


def _context_for(row: Scenario, table: ScenarioTable) -> RequestContext:
    match = row.match
    target = match.target or _unnamed(table, "target", ["2000011147", "2000099999", "2000099998"])
    query: dict[str, tuple[str, ...]] = {}
    bundle: dict[str, Any] | None = None
    (method, template), *_ = (
        (m, r.template) for r in BARS_ROUTES for m, op in r.methods.items() if op == row.operation
    )
    path = BASE + template.replace("{id}", match.resource_id or str(uuid.uuid4()))
    match row.operation:
        case Operation.MESSAGE_DEFINITION_SEARCH:
            query = {"context": (match.context or _unnamed(table, "context", ["2000099999", "2000099998"]),)}
        case Operation.SLOT_SEARCH:
            service = match.healthcare_service or _unnamed(table, "healthcare_service", ["2000099999", "2000099998"])
            query = {
                "Schedule.actor:HealthcareService": (service,),
                "status": (",".join(sorted(match.slot_status or {"free"})),),
                "start": ("ge2026-11-02T09:00:00+00:00", "le2026-11-02T17:00:00+00:00"),
                "_include": ("Slot:schedule", "Schedule:actor:HealthcareService"),
            }
        case Operation.APPOINTMENT_SEARCH | Operation.SERVICE_REQUEST_SEARCH:
            query = {"patient:identifier": ("https://fhir.nhs.uk/Id/nhs-number|9658499147",)}
        case Operation.PROCESS_MESSAGE:
            assert match.kind is not None, f"{row.id}: a message row names its kind"
            nhs_number = match.nhs_number or _unnamed(table, "nhs_number", ["9000000009", "9000000017"])
            bundle = for_patient(_message_of_kind(match.kind), None if nhs_number == BLANK_NHS_NUMBER else nhs_number)
    request = ApiRequest(
        method=method,
        path=path,
        query=query,
        body=json.dumps(bundle).encode() if bundle is not None else None,
        base_url="https://tkw.example.test",
    )
    return RequestContext(
        operation=row.operation,
        request=request,
        now=datetime(2026, 11, 2, 8, 0, tzinfo=UTC).timestamp(),
        target=TargetIdentifier(DOS, target),
        bundle=bundle,
    )


@pytest.mark.parametrize("edition", ["live", "beta"])
def test_the_answer_of_every_scenario_row_conforms(edition: Edition) -> None:
    table = get_table()
    engine = ScenarioEngine(table, edition=edition)
    rows = [s for s in table.scenarios if s.answers_in(edition)]
    checked: list[str] = []
    failures: list[str] = []
    for row in rows:
        for ctx in _contexts_for(row, table):
            answer = engine.respond(ctx)
            assert answer.scenario == row.id, f"the request made for {row.id} was answered by {answer.scenario}"
            assert answer.response.status == row.outcome.status, row.id
            try:
                assert_valid_fhir(answer.response.body)
            except AssertionError as err:
                failures.append(f"scenario {row.id} ({edition}, {ctx.operation}): {err}")
        checked.append(row.id)
    assert failures == []
    # Every row answering in this edition was met (a new row cannot slip past), none twice.
    assert sorted(checked) == sorted(s.id for s in rows) and len(checked) == len(set(checked))


def test_every_scenario_row_answers_in_an_edition() -> None:
    """So the two editions' runs above meet every row of scenarios.yaml."""
    table = get_table()
    answering = {s.id for s in table.scenarios if s.answers_in("live") or s.answers_in("beta")}
    assert len(answering) == len(table.scenarios)


# ---- the asynchronous responses of issue 15, built as the response worker builds them ----------------

RESPONSES = load_responses()
# The sender's validation request the outbound tests use (VALREQ03: 999 to CAS, the Response rows'
# Application); every on-demand kind is also built for every other Application's request (IG examples).
TRIGGER_REQUEST = "VALREQ03"
# The request headers the worker keeps (``service._kept_headers``).
REQUEST_HEADERS = {"x-correlation-id": "d4e5f6a7-0000-4000-8000-000000000001"}
TRIGGER_STEPS = [(t, n, kind) for t in RESPONSES.triggers for n, kind in enumerate(t.steps)]
# The request messages of the live IG and of the IG (the docs' curl sends the IG's VALREQ01).
REQUESTS = sorted(p for folder in (LIVE_IG_EXAMPLES, IG_EXAMPLES) for p in folder.glob("*REQ*.json"))


def _as_the_worker_builds(kind: ResponseKind, request: dict[str, Any], trigger_id: str) -> dict[str, Any]:
    """What ``tkw.outbound.service`` sends for a step (the same builder and arguments)."""
    message = build_response(
        kind,
        request,
        REQUEST_HEADERS,
        trigger_id=trigger_id,
        request_id=str(uuid.uuid4()),
        now=datetime(2026, 11, 26, 23, 0, tzinfo=UTC),
    )
    bundle: dict[str, Any] = json.loads(message.body)  # the bytes that go on the wire
    return bundle


def _assert_follows_its_ig_example(kind: ResponseKind, bundle: dict[str, Any], request: dict[str, Any]) -> None:
    """The Bundle and MessageHeader have the shape of the IG example the kind is built from."""
    template = RESPONSES.kinds[kind].template  # e.g. valresp01a.json, a copy of the live IG's VALRESP01A
    official = live_example(template.removesuffix(".json").upper() + "_")
    shipped = json.loads((LAYER / "outbound" / "templates" / template).read_text(encoding="utf-8"))
    assert shipped == official, f"{template} is no longer a copy of the IG example"
    assert set(bundle) == set(official), "Bundle elements"
    assert (bundle["type"], bundle["meta"].get("profile")) == (official["type"], official["meta"].get("profile"))
    header, expected = bundle["entry"][0]["resource"], official["entry"][0]["resource"]
    # The emulator adds the request it answers, and an id (REFRESP03's MessageHeader has none) that is
    # its fullUrl's uuid.
    assert set(header) - {"id"} == set(expected) - {"id"} | {"response"}, "MessageHeader elements"
    assert bundle["entry"][0]["fullUrl"] == f"urn:uuid:{header['id']}"
    for element in ("eventCoding", "definition", "reason", "meta"):
        assert header[element] == expected[element], element
    assert header["response"] == {"identifier": request["id"], "code": "ok"}
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    focus = next(e for e in bundle["entry"] if e["fullUrl"] == header["focus"][0]["reference"])
    official_focus = next(e for e in official["entry"] if e["fullUrl"] == expected["focus"][0]["reference"])
    assert focus["resource"]["resourceType"] == official_focus["resource"]["resourceType"]
    assert {e["resource"]["resourceType"] for e in official["entry"]} <= set(types), "the example's resources"


@pytest.mark.parametrize(
    ("trigger", "step", "kind"), TRIGGER_STEPS, ids=[f"{t.nhs_number}-{n}-{k}" for t, n, k in TRIGGER_STEPS]
)
def test_every_triggered_response_conforms(trigger: Trigger, step: int, kind: ResponseKind) -> None:
    request = for_patient(live_example(TRIGGER_REQUEST), trigger.nhs_number)
    request["id"] = str(uuid.uuid4())
    assert RESPONSES.trigger_for(nhs_number_of(request)) == trigger  # the request the row answers
    bundle = _as_the_worker_builds(kind, request, trigger_id=str(uuid.uuid4()))
    assert_valid_fhir(bundle)
    _assert_follows_its_ig_example(kind, bundle, request)
    assert bundle["entry"][0]["resource"]["eventCoding"]["code"].endswith("-response")


def test_every_step_of_every_response_row_is_checked() -> None:
    assert len(TRIGGER_STEPS) == sum(len(t.steps) for t in RESPONSES.triggers) >= len(RESPONSES.triggers) > 0


@pytest.mark.parametrize("path", REQUESTS, ids=[f"{p.parent.name}/{p.name.split('_')[0]}" for p in REQUESTS])
@pytest.mark.parametrize("kind", list(RESPONSES.kinds))
def test_every_kind_of_response_to_every_applications_request_conforms(kind: ResponseKind, path: Path) -> None:
    """``POST /tkw/responses`` sends any kind to any earlier request: each is built from the IG examples'
    requests of every Application and must conform."""
    request = json.loads(path.read_text(encoding="utf-8"))
    bundle = _as_the_worker_builds(kind, request, trigger_id=str(uuid.uuid4()))
    assert_valid_fhir(bundle)
    _assert_follows_its_ig_example(kind, bundle, request)


def test_every_kind_and_request_is_checked() -> None:
    assert set(RESPONSES.kinds) == set(get_args(ResponseKind)), "a kind responses.yaml does not describe"
    assert set(ON_DEMAND_KINDS) <= set(RESPONSES.kinds)  # reject and out-of-area are sent on demand only
    assert len({p.parent for p in REQUESTS}) == 2 and len(REQUESTS) >= 18


def test_a_profile_error_in_a_built_response_is_caught() -> None:
    """The check above can fail: a response whose ServiceRequest is an order, not a plan (BaRS fixes
    intent), is a profile error naming the element."""
    bundle = _as_the_worker_builds("full", live_example(TRIGGER_REQUEST), trigger_id=str(uuid.uuid4()))
    index = next(i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "ServiceRequest")
    bundle["entry"][index]["resource"]["intent"] = "order"
    errors = validate_body(bundle).errors
    assert [e.expression for e in errors] == [f"Bundle.entry[{index}].resource.intent"]
    with pytest.raises(AssertionError, match="profile errors"):
        assert_valid_fhir(bundle)
