"""scenarios.yaml: loads, holds every row of both editions of the TKW guide, and its schema rejects
broken tables."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from bars_support import ROOT

from tkw.message_kinds import MessageKind
from tkw.routes import Operation
from tkw.scenarios.engine import ScenarioEngine, load_table, scenarios_file
from tkw.scenarios.model import SCENARIO_TABLE, ScenarioTable
from tkw.scenarios.table import render_markdown

# The beta guide's "Scenarios" table (seed 000_*.txt), row by row (the duplicated 2000094704 row once):
# operation, sentinel keys, HTTP status and the id the guide names. Written out here, independently
# of the YAML.
APPOINTMENT = "ce1c4ced-2a84-4198-9982-9caf894d0bb7"
REFERRAL = "79120f41-a431-4f08-bcc5-1e67006fcae0"
VALIDATION = "0b42eac3-0175-43c8-bbab-efaa8ca31ccf"
FOR_408 = "9e595424-9d67-45db-9a90-03259653cd37"
FOR_501 = "c337e8d8-fd5b-4a13-a8e4-0f6f4ac1bb1a"
REFERRAL_REVOKED = "09b53c07-2a21-4ba5-ac8b-f33e486d794d"  # live page, 'Cancel Referral' (SERVREQ01)
CS, MD, SLOT, MESSAGE = (
    Operation.METADATA,
    Operation.MESSAGE_DEFINITION_SEARCH,
    Operation.SLOT_SEARCH,
    Operation.PROCESS_MESSAGE,
)
APPT_READ, SR_READ = Operation.APPOINTMENT_READ, Operation.SERVICE_REQUEST_READ

Row = tuple[Operation, dict[str, Any], int, str | None]
BETA: list[Row] = [
    (CS, {"target": "2000011147"}, 200, None),
    (CS, {"target": "2000076289"}, 200, None),
    (CS, {"target": "2000094704"}, 200, None),
    (CS, {"target": "2000011149"}, 200, None),
    (CS, {}, 200, None),
    (MD, {"context": "2000011147"}, 200, None),
    (MD, {"context": "2000076289"}, 200, None),
    (MD, {"context": "2000008878"}, 200, None),
    (MD, {"context": "2000094704"}, 200, None),
    (MD, {"context": "2000011149"}, 200, None),
    (MD, {}, 200, None),
    (MD, {"context": "FAIL0401"}, 401, None),
    (SLOT, {"healthcare_service": "2000072489"}, 200, None),
    (SLOT, {"healthcare_service": "2000072489", "slot_status": frozenset({"free", "busy"})}, 200, None),
    (SLOT, {"healthcare_service": "2000073917"}, 200, None),
    (SLOT, {"healthcare_service": "2000081825"}, 200, None),
    (SLOT, {"healthcare_service": "2000094120"}, 408, None),
    (MESSAGE, {"kind": "booking-new", "nhs_number": "9054613556"}, 200, APPOINTMENT),
    (APPT_READ, {"resource_id": APPOINTMENT}, 200, APPOINTMENT),
    (MESSAGE, {"kind": "booking-cancel"}, 200, APPOINTMENT),
    (MESSAGE, {"kind": "booking-new", "nhs_number": "blank"}, 200, APPOINTMENT),
    (MESSAGE, {"kind": "booking-new", "nhs_number": "9976150288"}, 404, None),
    (MESSAGE, {"kind": "booking-new", "nhs_number": "9933902830"}, 409, None),
    (MESSAGE, {"kind": "booking-new", "nhs_number": "9818556143"}, 422, None),
    (APPT_READ, {"resource_id": "0d440c22-7f25-4c6c-905d-2213d197d02a"}, 501, None),
    (MESSAGE, {"kind": "referral-new", "nhs_number": "9054613556"}, 200, REFERRAL),
    (SR_READ, {"resource_id": REFERRAL}, 200, REFERRAL),
    (MESSAGE, {"kind": "referral-cancel"}, 200, REFERRAL),
    (MESSAGE, {"kind": "referral-new", "nhs_number": "blank"}, 200, REFERRAL),
    (MESSAGE, {"kind": "referral-new", "nhs_number": "9618388816"}, 400, None),
    (MESSAGE, {"kind": "referral-new", "nhs_number": "9853944189"}, 500, None),
    (SR_READ, {"resource_id": "61215702-0049-4d76-9807-2123f0a6ca15"}, 405, None),
    (SR_READ, {"resource_id": "9d280ad9-6dda-46d2-a75e-f5b47b2f4e87"}, 429, None),
    (SR_READ, {"resource_id": "4d65ddaa-4d09-41cd-87c9-aeb9c0c96352"}, 503, None),
    (MESSAGE, {"kind": "validation-new"}, 200, VALIDATION),
    (MESSAGE, {"kind": "validation-new", "nhs_number": "9945210394"}, 200, FOR_408),
    (MESSAGE, {"kind": "validation-new", "nhs_number": "9010223337"}, 200, FOR_501),
    (SR_READ, {"resource_id": VALIDATION}, 200, VALIDATION),
    (MESSAGE, {"kind": "validation-update"}, 200, VALIDATION),
    (MESSAGE, {"kind": "validation-cancel"}, 200, VALIDATION),
    (MESSAGE, {"kind": "validation-new", "nhs_number": "9976150288"}, 404, None),
    (MESSAGE, {"kind": "validation-new", "nhs_number": "9933902830"}, 409, None),
    (MESSAGE, {"kind": "validation-new", "nhs_number": "9818556143"}, 422, None),
    (MESSAGE, {"kind": "validation-new", "nhs_number": "9383924314"}, 401, None),
    # The guide names 0b42eac3 here, contradicting its "New validation request" rows; see scenarios.yaml.
    (SR_READ, {"resource_id": FOR_408}, 408, None),
    (SR_READ, {"resource_id": FOR_501}, 501, None),
    (MESSAGE, {"kind": "validation-response-full"}, 200, None),
    (MESSAGE, {"kind": "validation-response-interim"}, 200, None),
    (MESSAGE, {"kind": "safeguarding-dna-response", "nhs_number": "9054613556"}, 200, None),
    (MESSAGE, {"kind": "safeguarding-dna-response", "nhs_number": "9383924314"}, 401, None),
]

# The live guide's TKW page (seed tkw-guide-live-2026.md, TKW 1.0.21), row by row, the same way.
LIVE: list[Row] = [
    (CS, {"target": "2000011147"}, 200, None),
    (CS, {"target": "2000076289"}, 200, None),
    (CS, {"target": "1374839566"}, 200, None),
    (CS, {}, 200, None),
    (MD, {"context": "2000011147"}, 200, None),
    (MD, {"context": "2000076289"}, 200, None),
    (MD, {"context": "2000003366"}, 200, None),
    (MD, {"context": "1374839566"}, 200, None),
    (MD, {"context": "2000070513"}, 200, None),
    (MD, {"context": "2000159909"}, 200, None),
    (MD, {}, 200, None),
    (MD, {"context": "FAIL0401"}, 401, None),
    (MD, {"context": "FAIL0404"}, 404, None),
    (MD, {"context": "2000071898"}, 200, None),
    (SLOT, {"healthcare_service": "2000072489"}, 200, None),
    (SLOT, {"healthcare_service": "2000072489", "slot_status": frozenset({"free", "busy"})}, 200, None),
    (SLOT, {"healthcare_service": "2000073917"}, 200, None),
    (SLOT, {"healthcare_service": "1503499715"}, 200, None),
    (SLOT, {"healthcare_service": "2000081230"}, 408, None),
    (MESSAGE, {"kind": "booking-new", "nhs_number": "9658499007"}, 200, APPOINTMENT),
    (APPT_READ, {"resource_id": APPOINTMENT}, 200, APPOINTMENT),
    (MESSAGE, {"kind": "booking-cancel"}, 200, APPOINTMENT),
    (MESSAGE, {"kind": "booking-new", "nhs_number": "blank"}, 200, APPOINTMENT),
    (MESSAGE, {"kind": "booking-new", "nhs_number": "9658499015"}, 404, None),
    (MESSAGE, {"kind": "booking-new", "nhs_number": "9658499023"}, 409, None),
    (MESSAGE, {"kind": "booking-new", "nhs_number": "9658499031"}, 422, None),
    (APPT_READ, {"resource_id": "0d440c22-7f25-4c6c-905d-2213d197d02a"}, 501, None),
    (MESSAGE, {"kind": "referral-new", "nhs_number": "9658499058"}, 200, REFERRAL),
    (SR_READ, {"resource_id": REFERRAL}, 200, REFERRAL),
    (MESSAGE, {"kind": "referral-cancel"}, 200, REFERRAL_REVOKED),
    (MESSAGE, {"kind": "referral-new", "nhs_number": "blank"}, 200, REFERRAL),
    (MESSAGE, {"kind": "referral-new", "target": "2000070513"}, 200, REFERRAL),
    (MESSAGE, {"kind": "referral-new", "nhs_number": "9658499066"}, 400, None),
    (MESSAGE, {"kind": "referral-new", "nhs_number": "9658499074"}, 500, None),
    (MESSAGE, {"target": "2000159910"}, 200, None),
    (SR_READ, {"resource_id": "61215702-0049-4d76-9807-2123f0a6ca15"}, 405, None),
    (SR_READ, {"resource_id": "9d280ad9-6dda-46d2-a75e-f5b47b2f4e87"}, 429, None),
    # The hint names 0b42eac3, the comment 4d65ddaa; 0b42eac3 is 'Get validation request' (200).
    (SR_READ, {"resource_id": "4d65ddaa-4d09-41cd-87c9-aeb9c0c96352"}, 503, None),
    (MESSAGE, {"kind": "validation-new"}, 200, VALIDATION),
    (MESSAGE, {"kind": "validation-new", "nhs_number": "9658499082"}, 200, FOR_408),
    (MESSAGE, {"kind": "validation-new", "nhs_number": "9658499090"}, 200, FOR_501),
    (SR_READ, {"resource_id": VALIDATION}, 200, VALIDATION),
    (MESSAGE, {"kind": "validation-update"}, 200, VALIDATION),
    (MESSAGE, {"kind": "validation-cancel"}, 200, None),  # no id on the page: see CONFLICTS
    (MESSAGE, {"kind": "validation-new", "nhs_number": "9658499015"}, 404, None),
    (MESSAGE, {"kind": "validation-new", "nhs_number": "9658499112"}, 409, None),
    (MESSAGE, {"kind": "validation-new", "nhs_number": "9658499120"}, 422, None),
    (MESSAGE, {"kind": "validation-new", "nhs_number": "9658499139"}, 401, None),
    (SR_READ, {"resource_id": FOR_408}, 408, None),
    (SR_READ, {"resource_id": FOR_501}, 501, None),
    (MESSAGE, {"kind": "validation-new", "nhs_number": "9658499147"}, 200, VALIDATION),
    (MESSAGE, {"kind": "validation-new", "nhs_number": "9658499155"}, 200, VALIDATION),
    (MESSAGE, {"kind": "safeguarding-dna-response", "nhs_number": "9658499163"}, 200, None),
    (MESSAGE, {"kind": "safeguarding-dna-response", "nhs_number": "9658499171"}, 401, None),
]

# Requests the two tables answer differently: (operation, keys) -> {edition: (status, id)}.
CONFLICTS: dict[tuple[Operation, str], dict[str, tuple[int, str | None]]] = {
    (MESSAGE, "referral-cancel"): {"beta": (200, REFERRAL), "live": (200, REFERRAL_REVOKED)},
    # Beta: the emulator's reading (the row names no id); live: the page's cancel body is SERVREQ01,
    # a revoked validation ServiceRequest, and its 'Cancel Referral' row returns 09b53c07 for it.
    (MESSAGE, "validation-cancel"): {"beta": (200, VALIDATION), "live": (200, REFERRAL_REVOKED)},
}


@pytest.fixture(scope="module")
def table() -> ScenarioTable:
    return load_table()


def raw_table() -> dict[str, Any]:
    return yaml.safe_load(scenarios_file().read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def signature(operation: Operation, keys: dict[str, Any]) -> tuple[Operation, tuple[tuple[str, Any], ...]]:
    normalised = {k: (MessageKind(v) if k == "kind" else v) for k, v in keys.items()}
    return operation, tuple(sorted(normalised.items(), key=lambda kv: kv[0]))


@pytest.mark.parametrize(("edition", "rows", "count"), [("beta", BETA, 50), ("live", LIVE, 54)])
def test_the_yaml_has_each_row_of_each_edition_once(
    table: ScenarioTable, edition: str, rows: list[Row], count: int
) -> None:
    assert len(rows) == count
    edition_rows = [s for s in table.scenarios if edition in s.editions]
    assert len(edition_rows) == count
    found = {signature(s.operation, s.match.keys()) for s in edition_rows}
    assert {signature(operation, keys) for operation, keys, _, _ in rows} == found


def complete(operation: Operation, keys: dict[str, Any]) -> dict[str, Any]:
    """The facts of a request with only the row's sentinels set (the rest "any other")."""
    if operation is Operation.PROCESS_MESSAGE:
        keys = {"nhs_number": "9000000009", "target": "2000072489", "kind": "referral-new"} | keys
    if operation is Operation.SLOT_SEARCH and "slot_status" not in keys:
        keys = keys | {"slot_status": frozenset({"free"})}
    if operation is Operation.METADATA and not keys:
        keys = {"target": "2000099999"}
    if operation is Operation.MESSAGE_DEFINITION_SEARCH and not keys:
        keys = {"context": "2000099999"}
    return keys


def conflict(operation: Operation, keys: dict[str, Any]) -> dict[str, tuple[int, str | None]] | None:
    return CONFLICTS.get((operation, str(keys.get("kind")))) if set(keys) == {"kind"} else None


@pytest.mark.parametrize("edition", ["live", "beta"])
@pytest.mark.parametrize(
    ("operation", "keys", "status", "resource_id"),
    [pytest.param(*row, id=f"beta-{i}") for i, row in enumerate(BETA)]
    + [pytest.param(*row, id=f"live-{i}") for i, row in enumerate(LIVE)],
)
def test_each_row_of_either_table_answers_in_both_editions(
    table: ScenarioTable, edition: str, operation: Operation, keys: dict[str, Any], status: int, resource_id: str | None
) -> None:
    """Every row answers whatever TKW_EDITION says, except where the tables conflict."""
    engine = ScenarioEngine(table, edition=edition)  # type: ignore[arg-type]
    scenario = engine.match(operation, complete(operation, keys))
    expected = conflict(operation, keys)
    if expected is not None:
        status, resource_id = expected[edition]
    assert (scenario.outcome.status, scenario.outcome.resource_id) == (status, resource_id)


@pytest.mark.parametrize("edition", ["live", "beta"])
def test_each_conflict_is_answered_as_the_chosen_edition_says(table: ScenarioTable, edition: str) -> None:
    engine = ScenarioEngine(table, edition=edition)  # type: ignore[arg-type]
    for (operation, kind), answers in CONFLICTS.items():
        scenario = engine.match(operation, complete(operation, {"kind": kind}))
        assert (scenario.outcome.status, scenario.outcome.resource_id) == answers[edition]
        assert scenario.only_in == edition


def test_every_conflict_is_listed_in_the_docs(table: ScenarioTable) -> None:
    markdown = render_markdown(table)
    conflicts = markdown.split("## Conflicts between the editions")[1].split("## ")[0]
    for (_, kind), answers in CONFLICTS.items():
        line = next(line for line in conflicts.splitlines() if f": {kind} |" in line)
        for _, resource_id in answers.values():
            assert f"`{resource_id}`" in line


def test_every_request_finds_a_row(table: ScenarioTable) -> None:
    defaults = {s.operation for s in table.scenarios if not s.match.keys()}
    assert defaults == set(Operation) - {Operation.PING, Operation.PROCESS_MESSAGE}
    kinds = {s.match.kind for s in table.scenarios if set(s.match.keys()) == {"kind"}}
    assert kinds == set(MessageKind)


def test_schema_rejects_a_table_where_a_request_would_find_no_row() -> None:
    def drop(d: dict[str, Any]) -> None:
        d["scenarios"] = [s for s in d["scenarios"] if s["id"] != "booking-update"]

    assert "no fallback row for: process-message booking-update" in broken(drop)


def test_docs_scenarios_md_is_rendered_from_the_yaml(table: ScenarioTable) -> None:
    docs = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    assert docs == render_markdown(table), "docs/scenarios.md is stale: regenerate it with render_markdown()"


def test_the_markdown_table_has_one_row_per_scenario(table: ScenarioTable) -> None:
    main = render_markdown(table).split("## Conflicts")[0]
    rows = [line for line in main.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + len(table.scenarios)
    assert "| MessageDef | MD failed request - HTTP 401 |" in render_markdown(table)
    assert "`FAIL0401` | 401 REC_UNAUTHORIZED (security)" in render_markdown(table)


# ---- the schema rejects broken tables ----------------------------------------------------------


def broken(mutate: Any) -> str:
    data = copy.deepcopy(raw_table())
    mutate(data)
    with pytest.raises(ValueError) as caught:  # pydantic's ValidationError (shape) or TableError (rules)
        SCENARIO_TABLE.validate(data)
    return str(caught.value)


def row(data: dict[str, Any], scenario_id: str) -> dict[str, Any]:
    return next(s for s in data["scenarios"] if s["id"] == scenario_id)


def test_schema_rejects_a_duplicate_id() -> None:
    assert "duplicate scenario ids" in broken(lambda d: d["scenarios"].append(copy.deepcopy(d["scenarios"][0])))


def test_schema_rejects_an_unknown_response() -> None:
    assert "unknown response" in broken(lambda d: row(d, "booking-get")["outcome"].update(response="nope"))


def test_schema_rejects_a_bars_code_of_another_status() -> None:
    assert "REC_TIMEOUT is HTTP 408" in broken(lambda d: row(d, "slots-408")["outcome"].update(status=504))


def test_schema_rejects_an_invalid_fhir_issue_code() -> None:
    assert "issue" in broken(lambda d: row(d, "slots-408")["outcome"]["error"].update(issue="408"))


def test_schema_rejects_a_malformed_nhs_number() -> None:
    assert "10 digits" in broken(lambda d: row(d, "booking-new")["match"].update(nhs_number="905461355"))


def test_schema_rejects_a_key_the_operation_does_not_have() -> None:
    assert "cannot match on" in broken(lambda d: row(d, "booking-get")["match"].update(nhs_number="9054613556"))


def test_schema_rejects_rows_that_could_both_match() -> None:
    def ambiguous(d: dict[str, Any]) -> None:
        extra = copy.deepcopy(row(d, "slots-none"))
        extra.update(id="slots-by-status", match={"slot_status": ["busy"]})
        d["scenarios"].append(extra)

    assert "could both match" in broken(ambiguous)


def test_schema_rejects_two_rows_with_the_same_match() -> None:
    def twice(d: dict[str, Any]) -> None:
        extra = copy.deepcopy(row(d, "booking-new"))
        extra["id"] = "booking-new-again"
        d["scenarios"].append(extra)

    assert "match the same requests" in broken(twice)


def test_schema_rejects_an_unknown_message_kind() -> None:
    assert "kind" in broken(lambda d: row(d, "booking-cancel")["match"].update(kind="booking-delete"))


def test_schema_rejects_a_success_without_response() -> None:
    assert "names a response" in broken(lambda d: row(d, "booking-get")["outcome"].pop("response"))


def test_engine_rejects_a_resource_whose_id_differs_from_the_row(table: ScenarioTable) -> None:
    data = copy.deepcopy(raw_table())
    row(data, "booking-get")["outcome"]["resource_id"] = "0b42eac3-0175-43c8-bbab-efaa8ca31ccf"
    with pytest.raises(ValueError, match="has id ce1c4ced"):
        ScenarioEngine(SCENARIO_TABLE.validate(data))


def test_the_yaml_ships_inside_the_layer() -> None:
    assert Path(str(scenarios_file())).is_relative_to(ROOT / "layers" / "tkw" / "tkw")
