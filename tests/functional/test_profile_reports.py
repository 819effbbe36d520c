"""Profile validation where messages are judged: the sender's report (built after the answer) and,
in strict mode, the answer itself. A referral whose ServiceRequest intent is not the ``plan`` BaRS
fixes is answered as usual, and its report names the place, the rule and the profile."""

from __future__ import annotations

import json
from typing import Any

from bars_support import BASE, bars_headers, ig_example

from tkw.http import ApiRequest, ApiResponse
from tkw.pipeline import handle
from tkw.reports.memory import InMemoryReportStore
from tkw.routes import Operation
from tkw.services import Services
from tkw.settings import Settings
from tkw.stateful import InMemoryStateStore

REFERRAL_PROFILE = "https://fhir.nhs.uk/StructureDefinition/BARSServiceRequest-request-referral"


def services(*, strict: bool) -> Services:
    found = Services(settings=Settings(strict_mode=strict))
    found.state = InMemoryStateStore()
    found.reports = InMemoryReportStore()
    return found


def booking_with_order_intent() -> tuple[dict[str, Any], str]:
    bundle = ig_example("REFREQ01")
    index = next(i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "ServiceRequest")
    bundle["entry"][index]["resource"]["intent"] = "order"
    return bundle, f"Bundle.entry[{index}].resource.intent"


def post(bundle: dict[str, Any], with_services: Services) -> ApiResponse:
    headers = {**bars_headers(), "Content-Type": "application/fhir+json"}
    request = ApiRequest(
        method="POST",
        path=BASE + "/$process-message",
        headers={k.lower(): (v,) for k, v in headers.items()},
        body=json.dumps(bundle).encode(),
    )
    return handle(Operation.PROCESS_MESSAGE, request, with_services)


def stored(with_services: Services, response: ApiResponse) -> Any:
    store = with_services.reports
    assert isinstance(store, InMemoryReportStore)
    # Reports are produced by the report worker, after the answer: wait for this one.
    assert with_services.report_handoff.wait_for(response.headers["TKW-Report-Id"], 10)
    return store.get("A1001", response.headers["TKW-Report-Id"], 0)


def test_the_report_names_the_place_the_rule_and_the_profile() -> None:
    with_services = services(strict=False)
    bundle, where = booking_with_order_intent()
    response = post(bundle, with_services)
    assert response.status == 200  # the sender's answer is the scenario's, as TKW answers
    record = stored(with_services, response)
    assert record.verdict == "fail"
    (finding,) = [f for f in record.failures if f.category == "profile" and f.location == where]
    assert finding.id == "profile.fixed" and finding.severity == "error" and finding.issue_code == "value"
    assert (finding.profile, finding.element) == (REFERRAL_PROFILE, "ServiceRequest.intent")
    assert (finding.expected, finding.found) == ("plan", "order")
    assert finding.resource == where.removesuffix(".intent") + " (ServiceRequest)"
    packages = [f for f in record.findings if f.id == "profile.packages"]
    assert packages and "uk.nhsdigital.bars.r4#" in packages[0].message


def test_the_html_report_groups_profile_findings_by_resource() -> None:
    with_services = services(strict=False)
    bundle, where = booking_with_order_intent()
    response = post(bundle, with_services)
    record = stored(with_services, response)
    store = with_services.reports
    assert isinstance(store, InMemoryReportStore)
    assert store.link("A1001", record.id, "html", 0)  # the HTML is rendered when first asked for
    html = next(v.decode() for k, v in store.objects.items() if record.id in k and k.endswith(".html"))
    errors = html.split('<section id="errors">', 1)[1].split("</section>", 1)[0]
    assert "Against the profiles (1)" in errors
    resource = where.removesuffix(".intent")
    assert f'<h3 class="resource">{resource} (ServiceRequest) (1)</h3>' in errors
    assert f'<div class="where">{where}</div>' in errors
    assert "<code>ServiceRequest.intent</code> in " + REFERRAL_PROFILE in errors
    assert "uk.nhsdigital.bars.r4#" in html.split("<footer>", 1)[1]


def test_a_clean_official_message_has_no_profile_error() -> None:
    with_services = services(strict=False)
    response = post(ig_example("REFREQ01"), with_services)
    record = stored(with_services, response)
    assert not [f for f in record.failures if f.category == "profile" and f.severity == "error"]
    assert any(f.id == "profile.applied" for f in record.passes)


def test_strict_mode_refuses_a_profile_error_naming_where() -> None:
    with_services = services(strict=True)
    bundle, where = booking_with_order_intent()
    response = post(bundle, with_services)
    assert response.status == 400
    body = response.body
    assert isinstance(body, dict)
    issues = [i for i in body["issue"] if i.get("expression") == [where]]
    assert issues and issues[0]["code"] == "value"
    assert "[profile.fixed]" in issues[0]["diagnostics"] and REFERRAL_PROFILE in issues[0]["diagnostics"]
    assert issues[0]["details"]["coding"][0]["code"] == "REC_BAD_REQUEST"
