"""The Application table (applications.yaml): its facts against their sources, and the checks that
keep a broken table from loading."""

from __future__ import annotations

import json

import pytest
import yaml
from bars_support import SPEC

from tkw.applications import get_catalogue, judge, load_catalogue
from tkw.applications.model import WORKFLOWS


def test_use_cases_are_exactly_the_codesystems() -> None:
    code_system = json.loads((SPEC / "CodeSystem-usecases-categories-bars.json").read_text())
    expected = {c["code"]: c["display"] for c in code_system["concept"]}
    catalogue = get_catalogue()
    assert {code: u.display for code, u in catalogue.use_cases.items()} == expected
    assert catalogue.use_case_system == code_system["url"]


@pytest.mark.parametrize(
    ("service", "application"),
    # The live TKW page: App 5 referral and MD at 2000070513, App 6 MD at 2000159909 and out-of-area
    # referral at 2000159910, validation receiver 2000003366 and sender 1374839566 (Application 4).
    [("2000070513", 5), ("2000159909", 6), ("2000159910", 6), ("2000003366", 4), ("1374839566", 4)],
)
def test_tkw_services_of_one_application(service: str, application: int) -> None:
    entry = get_catalogue().service(service)
    assert entry is not None and entry.dedicated == application


def test_shared_services_serve_the_applications_the_live_table_names() -> None:
    catalogue = get_catalogue()
    assert catalogue.services["2000011147"].applications == [1, 2, 7]
    assert catalogue.services["2000076289"].applications == [1, 2, 3, 5, 6]


def test_application_5_and_6_use_cases_follow_their_pages() -> None:
    catalogue = get_catalogue()
    # App 5 page: A5T1 live, A5T2/A5T3 withdrawn, referraltopharmacy deprecated.
    assert {c: u.status for c, u in catalogue.use_cases.items() if u.application == 5} == {
        "a5t1": "active",
        "a5t2": "withdrawn",
        "a5t3": "withdrawn",
        "referraltopharmacy": "deprecated",
    }
    assert catalogue.use_cases_of(6) == ["a6t1", "a6t2", "a6t3"]
    app5, app6 = catalogue.application(5), catalogue.application(6)
    assert app5 is not None and app6 is not None
    assert app5.workflows["referral-update"].supported is False  # "Update ... is not supported"
    assert {"referral-update", "referral-response-status", "referral-response-rejection"} <= set(app6.workflows)


def test_every_rule_names_workflows_of_its_application() -> None:
    for application in get_catalogue().applications:
        for rule in application.rules:
            assert set(rule.workflows) <= set(application.workflows) <= set(WORKFLOWS)


def _table() -> dict:  # type: ignore[type-arg]
    from importlib import resources

    text = resources.files("tkw.applications").joinpath("applications.yaml").read_text()
    return yaml.safe_load(text)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda t: t["applications"][3]["rules"][0].update(use_cases=["a6t1"]), "not Application 5's"),
        (lambda t: t["applications"][3]["rules"][0].update(id="app6.stray"), "belongs to Application 5"),
        (lambda t: t["applications"][3]["rules"][0].pop("to"), "needs to"),
        (lambda t: t["applications"][3].update(default_use_case="a1t1"), "is not its own"),
        (lambda t: t["services"]["2000070513"].update(applications=[9]), "unknown Applications"),
        (lambda t: t["applications"][4]["rules"][0].update(workflows=["validation-new"]), "no workflow"),
        (lambda t: t["applications"][3]["rules"][0].update(severity="fatal"), "severity 'fatal' is not one of"),
        (lambda t: t["applications"][3]["rules"][0].update(colour="red"), "colour"),  # a key the schema lacks
    ],
)
def test_a_broken_table_does_not_load(change, complaint: str) -> None:  # type: ignore[no-untyped-def]
    table = _table()
    assert table["applications"][3]["number"] == 5 and table["applications"][4]["number"] == 6
    change(table)
    with pytest.raises(ValueError) as caught:  # pydantic's ValidationError (shape) or TableError (rules)
        load_catalogue(yaml.safe_dump(table))
    assert complaint in str(caught.value)


def test_judge_prefers_the_dedicated_target_then_the_payload_then_the_header() -> None:
    assert judge(target="2000159910", workflow="referral-new", payload_use_case="a5t1").application == 6
    found = judge(target="2000076289", workflow="referral-new", payload_use_case="a5t1", header_use_case="a6t1")
    assert (found.application, found.use_case) == (5, "a5t1")
    found = judge(target="2000076289", workflow="referral-new", header_use_case="a6t2")
    assert (found.application, found.use_case) == (6, "a6t2")
    found = judge(target=None, workflow="booking-new")
    assert (found.application, found.use_case) == (1, "a1t1")
    assert judge(target="2000011147").application is None  # a read to a shared service: BaRS Core


def test_docs_applications_md_is_rendered_from_the_yaml() -> None:
    from bars_support import ROOT

    from tkw.applications.docs import render_markdown

    docs = (ROOT / "docs" / "applications.md").read_text(encoding="utf-8")
    assert docs == render_markdown(), "docs/applications.md is stale: regenerate it with render_markdown()"
