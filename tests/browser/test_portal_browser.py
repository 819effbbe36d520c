"""The TKW Portal in headless Chromium against the local runner: what a person sees and can do."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from bars_support import bars_headers, example
from browser_support import Page
from emulator_support import Emulator, free_port, start_emulator, stop_emulator
from unit.receiver.receiver_stubs import RunningStub, compliant_app, serve
from unit.stateful.stateful_bundles import booking_new
from werkzeug.wrappers import Request, Response

from tkw.auth.client import fetch_token, generate_key_pair, register_app
from tkw.receiver.suite import load_suite

PORTAL = "/tkw/portal"


def unique_ods(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:5].upper()


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return bytes(response.read())


def send_bars_requests(emulator: Emulator, ods: str) -> dict[str, str]:
    """Four BaRS calls (oldest first): their report ids by what they were."""

    def report_of(method: str, path: str, body: bytes | None = None, **extra: str) -> str:
        result = emulator.bars(method, path, bars_headers(ods=ods, **extra), body)
        report_id = result.header("TKW-Report-Id")
        assert report_id, result.raw[:300]
        return report_id

    booking = json.dumps(example("process_message/POST-body.json")).encode()
    return {
        "metadata": report_of("GET", "/metadata"),  # passes
        "booking": report_of("POST", "/$process-message", booking, Content_Type="application/fhir+json"),  # fails
        "slot": report_of("GET", "/Slot?status=free&Schedule.actor%3AHealthcareService=2000072489"),  # fails
        "appointment": report_of("GET", "/Appointment/ce1c4ced-2a84-4198-9982-9caf894d0bb7"),  # passes
    }


def shown_report_ids(page: Page) -> list[str]:
    return [str(row.get_attribute("data-report-id")) for row in page.all("#reports-body tr")]


def wait_for_rows(page: Page, count: int) -> list[str]:
    return page.wait(lambda: len(shown_report_ids(page)) == count and shown_report_ids(page), f"{count} report rows")


@pytest.fixture(scope="module")
def receiver() -> Iterator[RunningStub]:
    with serve(compliant_app()) as stub:
        yield stub


def test_first_visit_asks_for_the_organisation(emulator: Emulator, page: Page) -> None:
    page.open(emulator.root + PORTAL)
    page.wait_text("#edition", "TKW guide: live")  # the edition badge (TKW_EDITION, default live)
    assert page.visible("#no-org")
    assert "Choose your organisation" in page.text("#no-org")
    assert not page.visible("#panel-reports")
    # An invalid code is refused where it was typed.
    page.type(page.labelled("Organisation ODS code"), "no spaces!")
    page.button("Use organisation").click()
    assert "Enter an ODS code" in page.text("#ods-error")
    assert page.labelled("Organisation ODS code").get_attribute("aria-invalid") == "true"
    page.screenshot("choose-organisation")
    assert page.console_errors() == []


def test_sender_reports_list_filter_open_zip_and_share(emulator: Emulator, page: Page) -> None:
    ods = unique_ods("P")
    sent = send_bars_requests(emulator, ods)
    page.open(emulator.root + PORTAL)
    page.choose_organisation(ods.lower())  # typed in lower case: the portal upper-cases it

    newest_first = [sent["appointment"], sent["slot"], sent["booking"], sent["metadata"]]
    assert wait_for_rows(page, 4) == newest_first
    verdicts = [b.text for b in page.all("#reports-body td[data-label=Verdict] .badge")]
    assert verdicts == ["Passed", "Failed", "Failed", "Passed"]
    assert page.wait_text("#status", "4 reports shown")
    page.screenshot("reports")

    # Filter by verdict (the API), by scenario (in the page), by correlation id (the API).
    page.labelled("Verdict").send_keys("Failed")
    page.button("Apply filters").click()
    assert wait_for_rows(page, 2) == [sent["slot"], sent["booking"]]
    page.screenshot("reports-failed")
    page.button("Clear").click()
    wait_for_rows(page, 4)
    page.type(page.labelled("Scenario contains"), "BOOKING-NEW")
    page.button("Apply filters").click()
    assert wait_for_rows(page, 1) == [sent["booking"]]
    page.button("Clear").click()
    wait_for_rows(page, 4)
    booking_row = page.css(f'tr[data-report-id="{sent["booking"]}"]')
    correlation_id = booking_row.find_element("css selector", "td.cid code").text
    page.type(page.labelled("Correlation id"), correlation_id)
    page.button("Apply filters").click()
    assert wait_for_rows(page, 1) == [sent["booking"]]
    page.type(page.labelled("Correlation id"), str(uuid.uuid4()))
    page.button("Apply filters").click()
    page.wait(lambda: page.visible("#reports-empty"), "the no-match message")
    assert "No reports match these filters" in page.text("#reports-empty")
    page.button("Clear").click()
    wait_for_rows(page, 4)

    # Open one: the HTML report, fetched with the headers, shown in a frame.
    page.css(f'tr[data-report-id="{sent["booking"]}"] button.open').click()
    page.wait(lambda: page.visible("#viewer"), "the report viewer")
    assert page.text("#viewer-title").startswith("Report: Failed")
    page.driver.switch_to.frame(page.by_id("viewer-frame"))
    try:
        heading = page.wait(lambda: page.css("h1").text, "the report's heading")
        assert heading == "Validation report: Failed"
        assert sent["booking"] in page.css("dl.facts").text
    finally:
        page.driver.switch_to.default_content()
    assert str(page.by_id("viewer-open").get_attribute("href")).startswith("blob:")
    page.screenshot("report-open")

    # Select two, download them as a zip.
    for report_id in (sent["booking"], sent["metadata"]):
        page.css(f"#sel-{report_id}").click()
    assert page.text("#selected-count") == "2 selected"
    page.button("Download selected as zip").click()
    link = page.wait(lambda: page.visible("#zip-link") and page.by_id("zip-link"), "the zip link")
    assert link.text == "Download zip (2 reports)"
    archive = zipfile.ZipFile(io.BytesIO(fetch(str(link.get_attribute("href")))))
    names = set(archive.namelist())
    assert {f"{sent['booking']}.html", f"{sent['metadata']}.html", "index.html"} <= names
    assert f"{sent['slot']}.html" not in names
    link.click()
    downloads: Path = page.driver.downloads  # type: ignore[attr-defined]
    saved = page.wait(lambda: [p for p in downloads.iterdir() if p.suffix == ".zip"], "the zip in the downloads folder")
    assert zipfile.ZipFile(saved[0]).namelist()
    page.screenshot("zip-ready")

    # A shareable link: the presigned URL, shown (and copied when the browser lets the page).
    page.css(f'tr[data-report-id="{sent["metadata"]}"] button.share').click()
    shared = page.wait(lambda: page.by_id("share-link").get_attribute("value"), "the shareable link")
    assert sent["metadata"] in fetch(str(shared)).decode()
    assert page.text("#share-note") in ("Copied to the clipboard.", "Select the link and copy it (Ctrl+C or ⌘C).")
    page.screenshot("share-link")
    assert page.console_errors() == []


def test_switching_organisation_clears_everything_shown(emulator: Emulator, page: Page) -> None:
    first, second = unique_ods("A"), unique_ods("B")
    report_id = send_bars_requests(emulator, first)["booking"]
    page.open(emulator.root + PORTAL)
    page.choose_organisation(first)
    wait_for_rows(page, 4)
    page.css(f'tr[data-report-id="{report_id}"] button.open').click()
    page.wait(lambda: page.visible("#viewer"), "the report viewer")

    page.choose_organisation(second)
    page.wait(lambda: page.visible("#reports-empty"), "the empty state")
    assert f"No reports yet for {second}" in page.text("#reports-empty")
    assert shown_report_ids(page) == []
    assert not page.visible("#viewer")
    assert report_id not in page.driver.page_source
    assert first not in page.css("main").text
    page.screenshot("other-organisation-empty")

    # The choice is remembered by this browser.
    page.open(emulator.root + PORTAL)
    page.wait(lambda: page.driver.title.endswith(second), "the remembered organisation")
    assert page.labelled("Organisation ODS code").get_attribute("value") == second


def test_receive_requests_runs_chosen_tests_against_a_receiver(
    emulator: Emulator, page: Page, receiver: RunningStub
) -> None:
    ods = unique_ods("R")
    page.open(emulator.root + PORTAL + "#receive")
    page.choose_organisation(ods)
    # Pick an Application first: its happy path and error suite are listed (Application 1 first).
    page.wait(lambda: page.all("#suite-list input.test"), "the first Application's tests")
    assert page.labelled("BaRS Application").get_attribute("value") == "1"
    select = page.labelled("BaRS Application")
    select.find_element("css selector", "option[value='5']").click()
    app5 = [t for t in load_suite().tests if t.application == "5"]
    page.wait(lambda: len(page.all("#suite-list input.test")) == len(app5), "Application 5's tests")
    assert page.text("#tests-count") == f"{len(app5)} of {len(app5)} selected"
    assert [h.text for h in page.all("#suite-list h3")] == [
        f"Happy path ({sum(t.suite == 'happy' for t in app5)})",
        f"Error suite ({sum(t.suite == 'error' for t in app5)})",
    ]
    # Each test is described, with what it sends and expects (the BaRS code for a refusal).
    assert "Also runs a5-referral-new first." in page.by_id("t-a5-referral-get-desc").text
    assert "DELETE /$process-message → expects HTTP 405 REC_METHOD_NOT_ALLOWED" in page.text("#suite-list")
    page.screenshot("suite")

    page.button("Error suite only").click()
    errors5 = sum(t.suite == "error" for t in app5)
    assert page.text("#tests-count") == f"{errors5} of {len(app5)} selected"
    page.button("Select none").click()
    page.css("label[for=t-a5-capability-statement]").click()
    page.css("label[for=t-a5-referral-get]").click()
    page.css("label[for=t-a5-same-bundle-id]").click()
    assert page.text("#tests-count") == f"3 of {len(app5)} selected"
    page.type(page.labelled("Receiver base URL"), receiver.url())
    page.type(page.labelled("Target identifier (DoS service id)"), "2000072489")
    page.button("Execute selected tests").click()

    page.wait(lambda: page.by_id("run-view").get_attribute("data-status") == "passed", "the run to pass")
    results = page.all("#run-results li")
    assert [r.get_attribute("data-test-id") for r in results] == [
        "a5-capability-statement",
        "a5-referral-new",
        "a5-referral-get",
        "a5-same-bundle-id",
    ]
    assert {r.get_attribute("data-status") for r in results} == {"passed"}
    # Grouped by Application and suite.
    assert [h.text for h in page.all("#run-results h3")] == [
        "Application 5: GP to community pharmacy (Pharmacy First): Happy path (3 of 3 passed)",
        "Application 5: GP to community pharmacy (Pharmacy First): Error suite (1 of 1 passed)",
    ]
    assert page.text("#run-title") == "Run passed"
    assert page.text("#run-progress-text") == "Finished: 4 passed, 0 failed of 4."
    links = {a.get_attribute("data-kind"): str(a.get_attribute("href")) for a in page.all("#run-links a")}
    assert set(links) == {"html", "junit", "json", "zip"}
    page.screenshot("run-passed")
    junit = ET.fromstring(fetch(links["junit"]))  # noqa: S314 - the emulator's own output
    assert (junit.get("tests"), junit.get("failures")) == ("4", "0")
    assert [s.get("name") for s in junit.findall("testsuite")] == [
        "BaRS receiver suites: Application 5: GP to community pharmacy (Pharmacy First)"
    ]
    assert zipfile.ZipFile(io.BytesIO(fetch(links["zip"]))).namelist()

    # Receiver reports: the run is listed with its status, and fresh report links on demand.
    page.tab("Receiver reports")
    row = page.wait(lambda: page.all("#runs-body tr"), "the run in Receiver reports")[0]
    assert row.get_attribute("data-status") == "passed"
    assert row.find_element("css selector", "td[data-label='Passed / failed / total']").text == "4 / 0 / 4"
    assert row.find_element("css selector", "td[data-label='Application']").text.startswith("Application 5: ")
    page.button("Get reports", within="#runs-body").click()
    html_link = page.wait(lambda: page.css("#runs-body a.html"), "the run's report links")
    assert b"a5-same-bundle-id" in fetch(str(html_link.get_attribute("href")))
    page.screenshot("receiver-reports")
    assert page.console_errors() == []


def test_an_unreachable_receiver_and_a_bad_form_are_explained(emulator: Emulator, page: Page) -> None:
    page.open(emulator.root + PORTAL + "#receive")
    page.choose_organisation(unique_ods("U"))
    page.wait(lambda: page.all("#suite-list input.test"), "the suite")
    page.button("Execute selected tests").click()
    assert page.text("#run-error") == "Enter the receiver's base URL, starting http:// or https://."
    assert page.driver.switch_to.active_element == page.labelled("Receiver base URL")

    page.type(page.labelled("Receiver base URL"), f"http://127.0.0.1:{free_port()}/booking-and-referral/FHIR/R4")
    page.type(page.labelled("Target identifier (DoS service id)"), "2000072489")
    page.button("Select none").click()
    page.css("label[for=t-a1-capability-statement]").click()
    page.button("Execute selected tests").click()
    page.wait(lambda: page.by_id("run-view").get_attribute("data-status") in ("failed", "error"), "the run to end")
    assert "receiver unreachable" in page.text("#run-reason")
    assert "Check the receiver's URL" in page.text("#run-reason")
    page.screenshot("receiver-unreachable")


def test_stateful_state_is_shown_and_reset(emulator: Emulator, page: Page) -> None:
    ods = unique_ods("S")
    headers = bars_headers(ods=ods) | {"Content-Type": "application/fhir+json"}
    booked = emulator.bars("POST", "/$process-message", headers, json.dumps(booking_new()).encode())
    assert booked.status == 200, booked.raw[:300]
    page.open(emulator.root + PORTAL + "#state")
    page.choose_organisation(ods)
    facts = page.wait(lambda: page.visible("#state-facts") and page.by_id("state-facts"), "the state")
    assert facts.get_attribute("data-state") == "appointment-booked"
    assert page.css("dd[data-fact=State]").text == "Appointment booked"
    assert page.css("dd[data-fact='Appointment id']").text not in ("", "none")
    page.screenshot("state-booked")

    page.button("Reset state now").click()
    page.wait(lambda: page.by_id("state-facts").get_attribute("data-state") == "initial", "the reset state")
    assert page.css("dd[data-fact=State]").text == "Initial: nothing booked"
    assert page.wait_text("#status", f"State of {ods} reset")
    assert emulator.request("GET", "/tkw/state", bars_headers(ods=ods)).json["state"] == "initial"
    page.screenshot("state-reset")


def test_endpoints_register_test_remove_and_responses_in_sender_reports(
    emulator: Emulator, page: Page, receiver: RunningStub
) -> None:
    ods = unique_ods("E")
    page.open(emulator.root + PORTAL + "#endpoints")
    page.choose_organisation(ods)
    page.wait(lambda: page.visible("#endpoints-empty"), "the empty list")
    assert f"No endpoints registered for {ods}" in page.text("#endpoints-empty")
    page.type(page.labelled("Service id"), "default")
    page.type(page.labelled("Base URL of your BaRS API"), receiver.url())
    page.button("Register endpoint").click()
    row = page.wait(lambda: page.all("#endpoints-body tr[data-service-id=default]"), "the endpoint row")[0]
    assert receiver.url() in row.text
    page.button("Test", within="#endpoints-body").click()
    assert page.wait_text("#endpoint-result", "answered HTTP 200")
    page.screenshot("endpoints-registered")

    # A full validation response sentinel: the response sent shows among the sender reports.
    bundle = example("process_message/POST-body.json")
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Patient":
            entry["resource"]["identifier"][0]["value"] = "9658499147"
    headers = bars_headers(ods=ods, Content_Type="application/fhir+json")
    assert emulator.bars("POST", "/$process-message", headers, json.dumps(bundle).encode()).status == 200

    def outbound_listed() -> bool:
        listed = emulator.request("GET", "/tkw/reports", bars_headers(ods=ods)).json["reports"]
        return any(r["direction"] == "outbound" for r in listed)

    page.wait(outbound_listed, "the response sent", timeout=60)
    page.tab("Sender reports")
    page.button("Refresh").click()

    def outbound_row_text() -> str | None:
        rows = page.all("#reports-body tr[data-direction=outbound]")
        return str(rows[0].text) if rows else None

    text = page.wait(outbound_row_text, "the outbound report row")
    assert "response sent" in text and receiver.url() in text
    page.screenshot("response-sent-in-sender-reports")

    page.tab("Endpoints")
    page.button("Remove", within="#endpoints-body").click()
    page.wait(lambda: page.visible("#endpoints-empty"), "the emptied list")
    assert emulator.request("GET", "/tkw/endpoints", bars_headers(ods=ods)).json["endpoints"] == []


def test_an_unreachable_emulator_is_explained(emulator: Emulator, page: Page) -> None:
    page.open(emulator.root + PORTAL)
    # The emulator stops answering: the browser cannot reach /tkw/reports any more.
    page.driver.execute_cdp_cmd("Network.enable", {})
    page.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/tkw/*"]})
    page.choose_organisation(unique_ods("X"))
    page.wait(lambda: page.visible("#alert"), "the alert")
    assert page.text("#alert h2") == "The emulator is unreachable"
    assert "did not answer at " + emulator.root in page.text("#alert")
    page.screenshot("emulator-unreachable")


def test_the_tabs_and_the_organisation_work_from_the_keyboard(emulator: Emulator, page: Page) -> None:
    from selenium.webdriver.common.keys import Keys

    page.open(emulator.root + PORTAL)
    # A first visit starts in the organisation field; the skip link comes before it.
    field = page.labelled("Organisation ODS code")
    assert page.driver.switch_to.active_element == field
    field.send_keys(Keys.SHIFT, Keys.TAB)
    assert page.driver.switch_to.active_element.text == "Skip to content"
    field.send_keys(unique_ods("K") + Keys.ENTER)  # Enter submits
    page.wait(lambda: page.visible("#panel-reports"), "the reports panel")

    first = page.by_id("tab-reports")
    first.send_keys(Keys.ARROW_RIGHT)
    assert page.driver.switch_to.active_element.text == "Receive requests"
    assert page.by_id("tab-receive").get_attribute("aria-selected") == "true"
    assert page.visible("#panel-receive") and not page.visible("#panel-reports")
    page.driver.switch_to.active_element.send_keys(Keys.END)
    assert page.driver.switch_to.active_element.text == "Endpoints"
    page.driver.switch_to.active_element.send_keys(Keys.HOME)
    assert page.driver.switch_to.active_element.text == "Sender reports"
    # Only the selected tab is in the Tab order; focus is visible.
    assert [t.get_attribute("tabindex") for t in page.all("[role=tab]")] == ["0", "-1", "-1", "-1", "-1"]
    ring = page.driver.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert ring != "none"
    page.screenshot("keyboard-focus")


@pytest.mark.parametrize("page", [(390, 844)], indirect=True)
def test_the_portal_fits_a_phone(emulator: Emulator, page: Page) -> None:
    ods = unique_ods("M")
    send_bars_requests(emulator, ods)
    page.open(emulator.root + PORTAL)
    page.choose_organisation(ods)
    wait_for_rows(page, 4)
    overflow = page.driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a phone"
    assert not page.css("#reports-table thead").is_displayed()  # rows become cards
    assert page.button("Download selected as zip").is_displayed()
    assert not page.labelled("Verdict").is_displayed()  # filters start folded on a phone
    page.screenshot("phone-reports")
    page.css("#filter-box summary").click()
    assert page.labelled("Verdict").is_displayed()
    page.screenshot("phone-filters")
    page.tab("Receive requests")
    page.wait(lambda: page.all("#suite-list input.test"), "the suite")
    overflow = page.driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    page.screenshot("phone-receive")


@pytest.fixture(scope="module")
def int_emulator(browser_ready: None) -> Iterator[Emulator]:
    running = start_emulator({"AUTH_MODE": "int"})
    yield running
    stop_emulator(running)


def test_int_mode_asks_for_a_token_and_sends_it(int_emulator: Emulator, page: Page) -> None:
    ods = unique_ods("I")
    page.open(int_emulator.root + PORTAL)
    page.choose_organisation(ods)
    page.wait(lambda: page.visible("#token-panel"), "the token prompt")
    assert page.text("#token-title") == "Access token needed"
    assert page.driver.switch_to.active_element == page.labelled("Access token")
    assert not page.all("#reports-body tr")
    page.screenshot("token-needed")

    page.labelled("Access token").send_keys("not-a-token")
    page.button("Use token").click()
    refused = page.wait(lambda: page.visible("#token-error") and page.text("#token-error"), "the refusal")
    assert refused.startswith("The emulator refused the token")

    private_pem, public_pem = generate_key_pair(bits=2048)
    api_key = register_app(int_emulator.root, "Portal test", "PortalTest-INT-1", public_pem, [ods])["api_key"]
    token_url = int_emulator.root + "/oauth2/token"
    token = fetch_token(private_pem, "PortalTest-INT-1", api_key, token_url).access_token
    page.labelled("Access token").send_keys(token)
    page.button("Use token").click()
    page.wait(lambda: page.visible("#reports-empty"), "the reports, now authorised")
    assert not page.visible("#token-panel")
    assert f"No reports yet for {ods}" in page.text("#reports-empty")

    headers = bars_headers(ods=ods) | {"Authorization": f"Bearer {token}"}
    assert int_emulator.bars("GET", "/metadata", headers).status == 200
    page.button("Refresh").click()
    wait_for_rows(page, 1)
    page.screenshot("token-accepted")


def stage_proxy(root: str, stage: str) -> Callable[..., Any]:
    """A stand-in for API Gateway's execute-api host: serves the emulator under /<stage>/..."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if not request.path.startswith(stage + "/"):
            return Response("outside the stage", status=403)(environ, start_response)
        query = request.query_string.decode()
        url = root + request.path[len(stage) :] + (f"?{query}" if query else "")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        forwarded = urllib.request.Request(url, data=request.get_data() or None, method=request.method, headers=headers)
        try:
            with urllib.request.urlopen(forwarded, timeout=30) as answer:
                status, answer_headers, body = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as err:
            status, answer_headers, body = err.code, err.headers, err.read()
        response = Response(body, status=status)
        for name, value in answer_headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                response.headers[name] = value
        return response(environ, start_response)

    return app


def test_the_portal_works_under_a_stage_path(emulator: Emulator, page: Page) -> None:
    ods = unique_ods("V")
    sent = send_bars_requests(emulator, ods)
    with serve(stage_proxy(emulator.root, "/v1")) as gateway:
        root = f"http://127.0.0.1:{gateway.port}/v1"
        page.open(root + PORTAL)
        # The page's files load from under the stage (styled header), and the API root keeps the stage.
        assert page.css(".masthead").value_of_css_property("background-color") == "rgba(0, 94, 184, 1)"
        assert page.text("#api-root") == root
        page.choose_organisation(ods)
        assert wait_for_rows(page, 4)[0] == sent["appointment"]
        page.css(f'tr[data-report-id="{sent["booking"]}"] button.open').click()
        page.wait(lambda: page.visible("#viewer"), "the report viewer")
        page.screenshot("stage-path")
        assert page.console_errors() == []
