"""Routes are one fact: template.yaml's API events, tkw.routes' BaRS table and the handlers agree."""

from __future__ import annotations

import re

import pytest
from bars_support import ROOT

from tkw import BASE_PATH
from tkw.routes import BARS_ROUTES, Operation, find_route
from tkw_local.template import Template

TEMPLATE = Template.read(ROOT / "template.yaml")
# The fallback serves every path with ANY (for 404/405); the ping function needs no operation.
_FALLBACK = "FallbackFunction"


def _template_routes() -> set[tuple[str, str]]:
    return {
        (route.method, route.path)
        for spec in TEMPLATE.functions()
        for route in spec.routes
        if spec.logical_id != _FALLBACK
    }


def test_the_bars_route_table_is_what_the_template_serves() -> None:
    served = {(m, p) for m, p in _template_routes() if p.startswith(BASE_PATH)}
    table = {(method, BASE_PATH + route.template) for route in BARS_ROUTES for method in route.methods}
    assert table == served


def test_every_bars_path_has_its_fallback_for_other_methods() -> None:
    fallback = next(spec for spec in TEMPLATE.functions() if spec.logical_id == _FALLBACK)
    any_paths = {route.path for route in fallback.routes if route.method == "ANY"}
    assert {BASE_PATH + route.template for route in BARS_ROUTES} <= any_paths


def test_each_handler_decorates_exactly_its_template_routes() -> None:
    """A handler's ``@app.get(...)``/``@app.post(...)`` paths are its template events' paths."""
    decorator = re.compile(
        r"@app\.(get|post|put|delete)\((f?)\"([^\"]+)\"\)|@app\.(get|post|put|delete)\(BASE_PATH \+ r\"([^\"]+)\"\)"
    )
    for spec in TEMPLATE.functions():
        if spec.logical_id == _FALLBACK or not spec.routes:
            continue
        source = (ROOT / spec.code_uri / "app.py").read_text(encoding="utf-8")
        decorated = set()
        for match in decorator.finditer(source):
            if match.group(1):
                path = match.group(3).replace("{BASE_PATH}", BASE_PATH)
                decorated.add((match.group(1).upper(), path))
            else:
                decorated.add((match.group(4).upper(), BASE_PATH + match.group(5).replace("\\$", "$")))
        # Powertools writes path parameters as <name>, API Gateway as {name}.
        decorated = {(m, re.sub(r"<(\w+)>", "{param}", p)) for m, p in decorated}
        expected = {(r.method, re.sub(r"\{(\w+)\}", "{param}", r.path)) for r in spec.routes}
        assert decorated == expected, spec.logical_id


@pytest.mark.parametrize(
    ("path", "operation"),
    [
        ("/Slot", Operation.SLOT_SEARCH),
        ("/Slot/", Operation.SLOT_SEARCH),  # one trailing slash: API Gateway routes it the same
        ("/Appointment/", Operation.APPOINTMENT_SEARCH),
        ("/Appointment/abc-123", Operation.APPOINTMENT_READ),
        ("/Appointment/abc-123/", Operation.APPOINTMENT_READ),
        ("/$process-message", Operation.PROCESS_MESSAGE),
        ("/Slot//", None),  # two trailing slashes
        ("/Appointment//", None),  # an empty id
        ("/Appointment/abc/def", None),  # a segment too many
        ("/slot", None),  # paths are case sensitive: the caseless match only names the path meant
        ("/Slots", None),
        ("", None),
    ],
)
def test_a_path_finds_its_route_segment_by_segment(path: str, operation: Operation | None) -> None:
    route = find_route(BASE_PATH + path)
    assert (None if route is None else next(iter(route.methods.values()))) == operation


def test_a_path_outside_the_base_path_finds_no_route() -> None:
    assert find_route("/Slot") is None
    assert find_route("/other" + BASE_PATH + "/Slot") is None
