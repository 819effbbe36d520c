"""The scenario table as Markdown, rendered from ``scenarios.yaml`` (``docs/scenarios.md`` is its output)."""

from __future__ import annotations

from tkw.routes import BARS_ROUTES, Operation
from tkw.scenarios.model import BLANK_NHS_NUMBER, Scenario, ScenarioTable
from tkw.settings import EDITIONS

ENDPOINTS: dict[Operation, str] = {
    operation: f"{method} {route.template}" for route in BARS_ROUTES for method, operation in route.methods.items()
}

# How each match key reads in the guide's "Sentinel Element" column.
ELEMENTS: dict[str, str] = {
    "target": "NHSD-Target-Identifier (HTTP header)",
    "context": "context (parameter)",
    "healthcare_service": "Schedule.actor:HealthcareService (parameter)",
    "slot_status": "status (parameter)",
    "nhs_number": "Patient.identifier (NHS No.)",
    "resource_id": "id (path)",
}

HEADER = """# TKW sentinel scenarios

Generated from `layers/tkw/tkw/scenarios/scenarios.yaml` by `tkw.scenarios.table.render_markdown()`;
a test fails when this file is out of date.

The emulator answers the rows of **both editions** of the TKW guide's scenario table at once: *beta*
(BaRS guide v1.0.0-beta) and *live* (the live implementation guide's TKW page, TKW 1.0.21). The
*Edition(s)* column says which table a row comes from; *emulator* rows are the emulator's own answers
where the guide says nothing ("any other" values, update, search, unknown ids). Where the two tables
answer the same request differently (see [Conflicts](#conflicts-between-the-editions)), the template
parameter `TkwEdition` (environment variable `TKW_EDITION`: `live`, the default, or `beta`) decides;
every other row answers whatever the setting.

A request matches the row of its endpoint whose sentinel values all equal the request's: a row naming
the target (an Application's own service) first, then the row with the most sentinel elements; a row
with none ("any other") answers everything else. `$process-message` requests are first classified from
the Bundle (MessageHeader event and reason, ServiceRequest category, focus status) into the message
kind shown under *Request*. A 200 to `$process-message` is the request Bundle with the receiver's ids
(the id shown is given to the focus resource). Errors are OperationOutcomes with the BaRS code and
FHIR issue type shown.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _request(scenario: Scenario) -> str:
    endpoint = ENDPOINTS[scenario.operation]
    kind = scenario.match.kind
    return f"{endpoint}: {kind.value}" if kind is not None else endpoint


def _sentinel(scenario: Scenario, table: ScenarioTable) -> tuple[str, str]:
    """Element and value columns; keys that more specific sibling rows set read as "any other"."""
    own = {k: v for k, v in scenario.match.keys().items() if k != "kind"}
    wider: list[str] = []
    for other in table.scenarios:
        keys = other.match.keys()
        if (
            other.operation is scenario.operation
            and other.match.kind == scenario.match.kind
            and len(keys) == len(scenario.match.keys()) + 1
            and all(keys.get(k) == v for k, v in scenario.match.keys().items())
        ):
            wider += [k for k in keys if k not in own and k != "kind" and k not in wider]
    if not own and not wider:
        return "", "n/a"
    elements, values = [], []
    for name, value in own.items():
        elements.append(ELEMENTS[name])
        if isinstance(value, frozenset):
            values.append(",".join(sorted(value)))
        elif name == "nhs_number" and value == BLANK_NHS_NUMBER:
            values.append("blank (no NHS No.)")
        else:
            values.append(f"`{value}`")
    for name in wider:
        elements.append(ELEMENTS[name])
        values.append("any other")
    return "; ".join(elements), "; ".join(values)


def _response(scenario: Scenario, table: ScenarioTable) -> str:
    outcome = scenario.outcome
    if outcome.error is not None:
        return f"{outcome.status} {outcome.error.code} ({outcome.error.issue})"
    spec = table.responses[outcome.response or ""]
    text = f"{outcome.status} {spec.title}"
    return f"{text}, id `{outcome.resource_id}`" if outcome.resource_id else text


def _editions(scenario: Scenario) -> str:
    text = ", ".join(scenario.editions) if scenario.editions else "emulator"
    return f"{text} (answers only in {scenario.only_in})" if scenario.only_in else text


def _conflicts(table: ScenarioTable) -> list[str]:
    groups: dict[tuple[str, str], list[Scenario]] = {}
    for s in table.scenarios:
        if s.only_in is not None:
            signature = repr(sorted((k, repr(v)) for k, v in s.match.keys().items()))
            groups.setdefault((s.operation, signature), []).append(s)
    lines = [
        "",
        "## Conflicts between the editions",
        "",
        "The same request, answered differently by the two tables; `TKW_EDITION` picks the answer.",
        "",
        "| Request | Sentinel element | Sentinel value | " + " | ".join(f"{e} answers" for e in EDITIONS) + " |",
        "|" + "---|" * (3 + len(EDITIONS)),
    ]
    for rows in groups.values():
        element, value = _sentinel(rows[0], table)
        answers = []
        for edition in EDITIONS:
            row = next((r for r in rows if r.only_in == edition), None)
            answers.append(f"{_response(row, table)} ({row.id})" if row else "")
        lines.append("| " + " | ".join(_cell(c) for c in [_request(rows[0]), element, value, *answers]) + " |")
    return lines


def render_markdown(table: ScenarioTable | None = None) -> str:
    if table is None:
        from tkw.scenarios.engine import load_table

        table = load_table()
    columns = ["Suite", "Test", "BaRS application", "Request", "Sentinel element", "Sentinel value"]
    columns += ["Response", "Comment", "Edition(s)"]
    lines = [HEADER, "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for s in table.scenarios:
        element, value = _sentinel(s, table)
        cells = [s.suite, s.test, s.application, _request(s), element, value, _response(s, table), s.comment]
        lines.append("| " + " | ".join(_cell(c) for c in [*cells, _editions(s)]) + " |")
    counts = {e: sum(1 for s in table.scenarios if e in s.editions) for e in EDITIONS}
    own = sum(1 for s in table.scenarios if not s.editions)
    lines += [
        "",
        f"{len(table.scenarios)} rows: "
        + ", ".join(f"{n} from the {e} table" for e, n in counts.items())
        + f" (rows in both tables counted in each), {own} emulator rows.",
    ]
    lines += _conflicts(table)
    lines += ["", "## Where a guide page contradicts itself", ""]
    lines += [f"- {reading}" for reading in table.readings]
    lines += [
        "",
        "## The Endpoint Catalogue",
        "",
        "Only TKW's services are routed (others get 404 `PROXY_NOT_FOUND`, unless `UNKNOWN_TARGETS=accept`):",
        "the live page's UserTest DoS services below and every service id a row above names.",
        "",
        "| Service id | Name | Comment |",
        "|---|---|---|",
    ]
    lines += [f"| `{d.id}` | {_cell(d.name)} | {_cell(d.comment)} |" for d in table.usertest_dos]
    lines.append("")
    return "\n".join(lines)
