"""The sentinel engine: request -> facts -> the most specific matching row of scenarios.yaml -> response.

Each operation has one small function turning the request into *facts* (the sentinel elements: target,
context, HealthcareService, Slot status, message kind, NHS number, resource id). Rows are plain
equality matches on those facts, tried most specific first; there is no per-scenario code.
Malformed input that makes a fact unreadable (no ``context``, a non-UUID id, ...) is a 400 before
matching.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from tkw.context import Answer, RequestContext
from tkw.encoded_headers import DOS_SYSTEM
from tkw.fhir.outcome import BarsError, Issue
from tkw.http import ApiResponse
from tkw.message_kinds import NHS_NUMBER_SYSTEM
from tkw.routes import Operation
from tkw.scenarios import builders
from tkw.scenarios.classify import Classification, normalise_system
from tkw.scenarios.model import (
    BLANK_NHS_NUMBER,
    OPERATION_KEYS,
    SCENARIO_TABLE,
    AnyResponse,
    MessageDefinitionsResponse,
    MessageResponse,
    PatientSearchResponse,
    ResourceResponse,
    Scenario,
    ScenarioTable,
    SlotsResponse,
    priority,
)
from tkw.settings import Edition

USE_CASE_SYSTEM = "https://fhir.nhs.uk/CodeSystem/usecases-categories-bars"
_DOS = normalise_system(DOS_SYSTEM)
_USE_CASE = normalise_system(USE_CASE_SYSTEM)
_NHS = normalise_system(NHS_NUMBER_SYSTEM)
_SERVICE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NHS_NUMBER = re.compile(r"^\d{10}$")
SLOT_STATUSES = frozenset({"free", "busy"})
HEALTHCARE_SERVICE_PARAM = "Schedule.actor:HealthcareService"
INCLUDE_PARAMS = ("_include", "_include:iterate")


@dataclass(slots=True)
class Facts:
    """What matching sees (``keys``) plus what the chosen response needs."""

    keys: dict[str, object]
    classification: Classification | None = None
    nhs_number: str | None = None  # the patient searched for
    context: str | None = None  # the service whose MessageDefinitions are asked for
    slot_statuses: frozenset[str] = frozenset()


def _bad_request(code: str, diagnostics: str, expression: str) -> BarsError:
    return BarsError.of(400, "REC_BAD_REQUEST", code, diagnostics, expression=expression)


# ---- facts, one function per operation ---------------------------------------------------------


def _metadata_facts(ctx: RequestContext) -> Facts:
    target = ctx.target
    return Facts(keys={"target": target.value if target else None})


def _context_facts(ctx: RequestContext) -> Facts:
    values = [v.strip() for v in ctx.request.params("context") if v.strip()]
    if not values:
        raise _bad_request(
            "required",
            "The context parameter is required: the id of the service whose MessageDefinitions are wanted, "
            f"as {DOS_SYSTEM}|<service id> or the bare id.",
            "context",
        )
    service: str | None = None
    for value in values:
        system, _, token = value.rpartition("|")
        normalised = normalise_system(system)
        if normalised == _USE_CASE:
            continue  # 1.2.0+ adds the use-case category as a second context: tolerated
        if system and normalised != _DOS:
            raise _bad_request(
                "value",
                f"context system {system!r} is not supported; use {DOS_SYSTEM} (or a bare service id).",
                "context",
            )
        if service is None:
            service = token
    if service is None:
        raise _bad_request("required", f"No context names a service ({DOS_SYSTEM}|<service id>).", "context")
    if not _SERVICE_ID.match(service):
        raise _bad_request("value", "The context service id must be 1-64 letters, digits, '.', '_' or '-'.", "context")
    return Facts(keys={"context": service}, context=service)


def _slot_facts(ctx: RequestContext) -> Facts:
    request = ctx.request
    raw = request.param(HEALTHCARE_SERVICE_PARAM) or request.param("healthcareService")  # sandbox spelling
    service = (raw or "").rpartition("|")[2].strip()
    if not service:
        raise _bad_request(
            "required",
            f"The {HEALTHCARE_SERVICE_PARAM} parameter is required: the id of the service whose Slots are wanted.",
            HEALTHCARE_SERVICE_PARAM,
        )
    # TKW's NBRS-1760/1771: a missing or invalid status, a missing start or an _include outside the
    # spec's values is a 400 naming the parameter, never Slots.
    raw_statuses = [part.strip().lower() for value in request.params("status") for part in value.split(",")]
    if not [s for s in raw_statuses if s]:
        raise _bad_request("required", "The status parameter is required: free, busy or free,busy.", "status")
    statuses = frozenset(s for s in raw_statuses if s)
    unknown = statuses - SLOT_STATUSES
    if unknown:
        raise _bad_request(
            "value", f"Slot status {sorted(unknown)} is not supported; use free, busy or free,busy.", "status"
        )
    if not [v for v in request.params("start") if v.strip()]:
        raise _bad_request(
            "required",
            "The start parameter is required: the window of Slots wanted, "
            "e.g. start=ge<date-time>&start=le<date-time>.",
            "start",
        )
    for name in INCLUDE_PARAMS:
        outside = [v for v in request.params(name) if v.strip().lower() not in builders.INCLUDE_ALIASES]
        if outside:
            allowed = ", ".join([*builders.INCLUDES, "Slot:*"])
            raise _bad_request("value", f"{name} {outside} is not one of the spec's values: {allowed}.", name)
    return Facts(keys={"healthcare_service": service, "slot_status": statuses}, slot_statuses=statuses)


def _message_facts(ctx: RequestContext) -> Facts:
    found = ctx.classification
    target = ctx.target
    keys: dict[str, object] = {"kind": found.kind, "nhs_number": found.nhs_number or BLANK_NHS_NUMBER}
    keys["target"] = target.value if target else None
    return Facts(keys=keys, classification=found)


def _read_facts(resource_type: str) -> Callable[[RequestContext], Facts]:
    def facts(ctx: RequestContext) -> Facts:
        request = ctx.request
        resource_id = (request.path_params.get("id") or request.path.rstrip("/").rsplit("/", 1)[-1]).strip()
        if not _UUID.match(resource_id):
            raise _bad_request("value", f"The {resource_type} id must be a UUID.", f"{resource_type}.id")
        return Facts(keys={"resource_id": resource_id.lower()})

    return facts


def _patient_search_facts(ctx: RequestContext) -> Facts:
    value = (ctx.request.param("patient:identifier") or "").strip()
    if not value:
        raise _bad_request(
            "required",
            f"The patient:identifier parameter is required: {NHS_NUMBER_SYSTEM}|<NHS number> (or the bare number).",
            "patient:identifier",
        )
    system, _, number = value.rpartition("|")
    if system and normalise_system(system) != _NHS:
        raise _bad_request(
            "value", f"patient:identifier must use the system {NHS_NUMBER_SYSTEM}.", "patient:identifier"
        )
    number = "".join(number.split())
    if not _NHS_NUMBER.match(number):
        raise _bad_request("value", "patient:identifier must be a 10-digit NHS number.", "patient:identifier")
    return Facts(keys={}, nhs_number=number)


_FACTS: dict[Operation, Callable[[RequestContext], Facts]] = {
    Operation.METADATA: _metadata_facts,
    Operation.MESSAGE_DEFINITION_SEARCH: _context_facts,
    Operation.SLOT_SEARCH: _slot_facts,
    Operation.PROCESS_MESSAGE: _message_facts,
    Operation.APPOINTMENT_READ: _read_facts("Appointment"),
    Operation.SERVICE_REQUEST_READ: _read_facts("ServiceRequest"),
    Operation.APPOINTMENT_SEARCH: _patient_search_facts,
    Operation.SERVICE_REQUEST_SEARCH: _patient_search_facts,
}
assert set(_FACTS) == set(OPERATION_KEYS)


# ---- the engine --------------------------------------------------------------------------------

Built = (
    builders.CannedResource
    | builders.MessageDefinitions
    | builders.SlotSet
    | builders.PatientSearch
    | None  # a message echo needs nothing prepared
)


class ScenarioEngine:
    """A validated table with its responses prepared; :meth:`respond` answers one ctx."""

    def __init__(self, table: ScenarioTable, root: Traversable | None = None, edition: Edition = "live") -> None:
        self.table = table
        self.edition = edition
        root = root or builders.resources_root()
        self._built: dict[str, Built] = {name: _prepare(spec, root) for name, spec in table.responses.items()}
        self._rows: dict[Operation, list[tuple[tuple[tuple[str, object], ...], Scenario]]] = {}
        for scenario in table.scenarios:
            self._check_resource_id(scenario)
            if not scenario.answers_in(edition):
                continue  # the other edition's answer where the two disagree
            keys = tuple(scenario.match.keys().items())
            self._rows.setdefault(scenario.operation, []).append((keys, scenario))
        for rows in self._rows.values():
            rows.sort(key=lambda row: priority(dict(row[0])), reverse=True)  # most specific first; stable

    def _check_resource_id(self, scenario: Scenario) -> None:
        built = self._built.get(scenario.outcome.response or "")
        expected = scenario.outcome.resource_id
        if isinstance(built, builders.CannedResource) and expected is not None and built.id != expected:
            raise ValueError(f"scenario {scenario.id}: response {scenario.outcome.response} has id {built.id}")

    def match(self, operation: Operation, keys: Mapping[str, object]) -> Scenario:
        for row_keys, scenario in self._rows.get(operation, ()):
            if all(keys.get(name) == value for name, value in row_keys):
                return scenario
        raise LookupError(f"no scenario answers {operation} with {dict(keys)}")

    def respond(self, ctx: RequestContext) -> Answer:
        """The matching row's answer; input too malformed to read a fact from raises a 400 first."""
        facts = _FACTS[ctx.operation](ctx)
        scenario = self.match(ctx.operation, facts.keys)
        outcome = scenario.outcome
        if outcome.error is not None:
            issue = Issue(
                code=outcome.error.issue,
                bars_code=outcome.error.code,
                diagnostics=f"{outcome.error.diagnostics} (TKW scenario {scenario.id})",
            )
            error = BarsError(status=outcome.status, issues=(issue,), headers=dict(outcome.headers))
            return Answer(error.to_response(), scenario=scenario.id)
        body = self._build(scenario, ctx, facts)
        return Answer(ApiResponse(outcome.status, body, headers=dict(outcome.headers)), scenario=scenario.id)

    def _build(self, scenario: Scenario, ctx: RequestContext, facts: Facts) -> dict[str, Any]:
        built = self._built[scenario.outcome.response or ""]
        request = ctx.request
        if isinstance(built, builders.CannedResource):
            return built.build()
        if isinstance(built, builders.MessageDefinitions):
            link = builders.self_link(request.base_url, request.path, builders.query_pairs(request.query))
            return built.build(facts.context or "", request.base_url, link)
        if isinstance(built, builders.SlotSet):
            # `_include:iterate` is how FHIR spells includes of included resources; both are honoured.
            asked = [(k, v) for k, v in builders.query_pairs(request.query) if k in INCLUDE_PARAMS]
            honoured = built.honoured(asked)
            includes = [name for _, name in honoured]
            query = [(k, v) for k, v in builders.query_pairs(request.query) if k not in INCLUDE_PARAMS]
            link = builders.self_link(request.base_url, request.path, query + honoured)
            window = builders.parse_window(request.params("start"))
            now = datetime.fromtimestamp(ctx.now, UTC)
            return built.build(facts.slot_statuses, window, includes, now, link)
        if isinstance(built, builders.PatientSearch):
            link = builders.self_link(request.base_url, request.path, builders.query_pairs(request.query))
            return built.build(facts.nhs_number or "", request.base_url, link)
        found = facts.classification
        assert found is not None and ctx.bundle is not None
        return builders.echo_message(
            ctx.bundle, found.focus_index, scenario.outcome.resource_id, use_case=_answer_use_case(ctx, found)
        )


def _answer_use_case(ctx: RequestContext, found: Classification) -> str | None:
    """The use case TKW's synchronous answer carries (TKW 1.0.19, NBRS-3800): the payload's own, else
    the one the request is judged against (its use-context header, the target's Application)."""
    if found.use_case:
        return found.use_case
    from tkw.applications import judge  # the catalogue: only messages need it (GET cold starts do not)

    header = (ctx.request.header("use-context") or "").split("|")[0].strip().lower() or None
    target = ctx.target.value if ctx.target is not None else None
    return judge(target=target, workflow=found.workflow, header_use_case=header).use_case


def _prepare(spec: AnyResponse, root: Traversable) -> Built:
    """Load and pre-serialise what a response needs, once per process."""
    match spec:
        case ResourceResponse():
            return builders.CannedResource(builders.load_resource(root, spec.file))
        case MessageDefinitionsResponse():
            return builders.MessageDefinitions([builders.load_resource(root, f) for f in spec.files])
        case SlotsResponse():
            return builders.SlotSet(builders.load_resource(root, spec.file))
        case PatientSearchResponse():
            return builders.PatientSearch([builders.load_resource(root, f) for f in spec.files])
        case MessageResponse():
            return None


def scenarios_file() -> Path:
    return SCENARIO_TABLE.source_path


def load_table(text: str | None = None) -> ScenarioTable:
    """The table: ``text`` parsed and validated when given, else ``scenarios.yaml`` (from its compiled
    artefact when that is current, see :mod:`tkw.tables`)."""
    return SCENARIO_TABLE.load() if text is None else SCENARIO_TABLE.parse(text)


@lru_cache(maxsize=1)
def get_table() -> ScenarioTable:
    """The process-wide table (loaded once)."""
    return load_table()


@lru_cache(maxsize=2)
def _engine(edition: Edition) -> ScenarioEngine:
    return ScenarioEngine(get_table(), edition=edition)


def get_engine(edition: Edition = "live") -> ScenarioEngine:
    """The process-wide engine of an edition, built on first use."""
    return _engine(edition)


def respond(ctx: RequestContext, edition: Edition = "live") -> Answer:
    return get_engine(edition).respond(ctx)
