"""The runner reads routes from template.yaml and picks one the way API Gateway does."""

from pathlib import Path

import pytest
from bars_support import BASE, ROOT

from tkw_local.backend import Resolver, parameters_from_env
from tkw_local.server import LocalApi
from tkw_local.template import ApiRoute, Template, constant_case

TEMPLATE = Template.read(ROOT / "template.yaml")


def api_with_template_routes() -> LocalApi:
    api = LocalApi(template_path=ROOT / "template.yaml")
    for spec in TEMPLATE.functions():
        api.routes.extend(spec.routes)
    return api


@pytest.mark.parametrize(
    ("method", "path", "function", "params"),
    [
        ("GET", f"{BASE}/metadata", "MetadataFunction", {}),
        ("POST", f"{BASE}/metadata", "FallbackFunction", {}),
        ("GET", f"{BASE}/$process-message", "FallbackFunction", {}),
        ("POST", f"{BASE}/$process-message", "ProcessMessageFunction", {}),
        ("GET", f"{BASE}/Appointment/abc", "AppointmentFunction", {"id": "abc"}),
        ("DELETE", f"{BASE}/Appointment/abc", "FallbackFunction", {"id": "abc"}),
        (
            "GET",
            f"{BASE}/Appointment/abc/_history",
            "FallbackFunction",
            {"proxy": "booking-and-referral/FHIR/R4/Appointment/abc/_history"},
        ),
        ("GET", "/", "FallbackFunction", {}),
        ("GET", "/anything/else", "FallbackFunction", {"proxy": "anything/else"}),
    ],
)
def test_routes_resolve_like_api_gateway(method: str, path: str, function: str, params: dict[str, str]) -> None:
    matched = api_with_template_routes().match(method, path)
    assert matched is not None
    route, got = matched
    assert (route.function, got) == (function, params)


def test_every_bars_route_of_the_template_has_its_own_function() -> None:
    routes = {(r.method, r.path.removeprefix(BASE)): r.function for f in TEMPLATE.functions() for r in f.routes}
    expected = {
        ("GET", "/_ping"),
        ("GET", "/metadata"),
        ("GET", "/MessageDefinition"),
        ("GET", "/Slot"),
        ("POST", "/$process-message"),
        ("GET", "/Appointment"),
        ("GET", "/Appointment/{id}"),
        ("GET", "/ServiceRequest"),
        ("GET", "/ServiceRequest/{id}"),
    }
    assert expected <= set(routes)
    assert routes[("ANY", "/{proxy+}")] == "FallbackFunction"


def test_greedy_resources_need_at_least_one_segment() -> None:
    assert ApiRoute("F", "/{proxy+}", "ANY").match("/") is None
    assert ApiRoute("F", "/a/{id}", "GET").match("/a") is None


def test_parameters_default_from_template_and_are_overridden_by_constant_case_env() -> None:
    params = parameters_from_env(TEMPLATE, {"AUTH_MODE": "int"})
    assert params["AuthMode"] == "int"
    assert params["StrictMode"] == "false"
    assert constant_case("ReportRetentionDays") == "REPORT_RETENTION_DAYS"


def test_resolver_handles_ref_getatt_and_sub() -> None:
    resolver = Resolver(parameters={"Stage": "v1"}, physical={"StateTable": "t"}, arns={"StateTable": "arn:t"})
    assert resolver.resolve({"Ref": "StateTable"}) == "t"
    assert resolver.resolve({"Fn::GetAtt": ["StateTable", "Arn"]}) == "arn:t"
    assert resolver.resolve({"Fn::Sub": "${StateTable.Arn}/index/${Stage}"}) == "arn:t/index/v1"


def test_template_path_is_the_project_template() -> None:
    assert Path(TEMPLATE.root) == ROOT
