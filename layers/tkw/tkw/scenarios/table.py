"""The scenario table as Markdown, rendered from ``scenarios.yaml`` (``docs/scenarios.md`` is its output)."""

from __future__ import annotations

from tkw.routes import BARS_ROUTES, Operation
from tkw.scenarios.model import BLANK_NHS_NUMBER, Scenario, ScenarioTable

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
a test fails when this file is out of date. Rows marked *guide* are the "Scenarios" table of the TKW
guide; rows marked *emulator* are the emulator's answers where the guide says nothing ("any other"
values, update, search, unknown ids).

A request matches the row of its endpoint whose sentinel values all equal the request's; the row with
the most sentinel elements wins, and a row with none ("any other") answers everything else.
`$process-message` requests are first classified from the Bundle (MessageHeader event and reason,
ServiceRequest category, focus status) into the message kind shown under *Request*. A 200 to
`$process-message` is the request Bundle with the receiver's ids (the id shown is given to the focus
resource). Errors are OperationOutcomes with the BaRS code and FHIR issue type shown.
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


def render_markdown(table: ScenarioTable | None = None) -> str:
    if table is None:
        from tkw.scenarios.engine import load_table

        table = load_table()
    columns = ["Suite", "Test", "BaRS application", "Request", "Sentinel element", "Sentinel value"]
    columns += ["Response", "Comment", "Source"]
    lines = [HEADER, "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for s in table.scenarios:
        element, value = _sentinel(s, table)
        cells = [s.suite, s.test, s.application, _request(s), element, value, _response(s, table), s.comment, s.source]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    guide = sum(1 for s in table.scenarios if s.source == "guide")
    lines += [
        "",
        f"{len(table.scenarios)} rows: {guide} from the guide, {len(table.scenarios) - guide} emulator rows.",
        "",
    ]
    return "\n".join(lines)
