"""The HTML validation reports (issue 5) as a person sees them in Chromium: verdict, counts, failures first."""

from __future__ import annotations

import io
import json
import urllib.request
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
from bars_support import bars_headers
from browser_support import ARTIFACTS, Page
from emulator_support import Emulator

SLOT = "/Slot?status=free&Schedule.actor%3AHealthcareService=2000072489"


def stored_report(emulator: Emulator, ods: str, path: str) -> tuple[dict[str, Any], Path]:
    """Send one BaRS request; return its stored JSON record and its stored HTML, saved as a file."""
    report_id = emulator.bars("GET", path, bars_headers(ods=ods)).header("TKW-Report-Id")
    assert report_id
    record = emulator.request("GET", f"/tkw/reports/{report_id}", bars_headers(ods=ods)).json
    html = emulator.request("GET", f"/tkw/reports/{report_id}", bars_headers(ods=ods) | {"Accept": "text/html"})
    assert html.status == 200 and (html.header("Content-Type") or "").startswith("text/html")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    saved = ARTIFACTS / f"report-{report_id}.html"
    saved.write_bytes(html.raw)
    return record, saved


def overflow(page: Page) -> int:
    return int(page.driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth"))


@pytest.mark.parametrize("page", [(1280, 900), (390, 844)], indirect=True, ids=["desktop", "phone"])
def test_a_failed_report_shows_verdict_counts_and_failures_first(emulator: Emulator, page: Page) -> None:
    record, saved = stored_report(emulator, "H" + uuid.uuid4().hex[:5].upper(), SLOT)
    assert record["verdict"] == "fail" and record["counts"]["warnings"] >= 1  # the scenario this test relies on
    page.open(saved.as_uri())

    # First thing read: the verdict, then the counts.
    assert page.text("h1") == "Validation report: Failed"
    counts = record["counts"]
    expected = [
        f"{counts['errors']} error{'s' if counts['errors'] != 1 else ''}",
        f"{counts['warnings']} warning{'s' if counts['warnings'] != 1 else ''}",
        f"{counts['info']} note{'s' if counts['info'] != 1 else ''}",
        f"{counts['passed']} check{'s' if counts['passed'] != 1 else ''} passed",
    ]
    assert [li.text for li in page.all("header ul.counts li")] == expected
    assert record["id"] in page.text("header dl.facts")

    # Then the failures, errors before warnings, each saying where and why; passes after, folded.
    blocks = [b.get_attribute("id") for b in page.all("main > section, main > details")]
    assert blocks[0] == "errors"
    assert blocks.index("errors") < blocks.index("warnings") < blocks.index("passed") < blocks.index("exchange")
    assert page.text("#errors h2") == f"Errors ({counts['errors']})"
    errors = [f for f in record["findings"] if not f["passed"] and f["severity"] == "error"]
    shown = page.all("#errors li.finding")
    assert [s.find_element("css selector", ".why").text for s in shown] == [f["message"] for f in errors]
    assert [s.find_element("css selector", ".where").text for s in shown] == [f["location"] for f in errors]
    assert "a BaRS receiver would answer" in shown[0].text
    assert page.text("#warnings h2") == f"Warnings ({counts['warnings']})"
    assert page.css("#passed summary").text == f"Passed checks ({counts['passed']})"
    assert not page.css("#passed li.finding").is_displayed()
    assert all(not d.get_property("open") for d in page.all("#exchange details"))
    assert overflow(page) <= 0, "the report scrolls sideways"
    page.screenshot("failed-report")

    # Printing opens every folded section (the report's one inline script, allowed by its CSP hash).
    page.driver.execute_script("window.dispatchEvent(new Event('beforeprint'))")
    assert all(d.get_property("open") for d in page.all("details"))
    assert page.css("#passed li.finding").is_displayed()
    assert page.console_errors() == []


def test_a_passed_report_says_so_and_has_no_failure_sections(emulator: Emulator, page: Page) -> None:
    record, saved = stored_report(emulator, "H" + uuid.uuid4().hex[:5].upper(), "/metadata")
    assert record["verdict"] == "pass"
    page.open(saved.as_uri())
    assert page.text("h1") == "Validation report: Passed"
    assert page.css("header.top").get_attribute("class") == "top pass"
    assert not page.all("#errors") and not page.all("#warnings")
    # Notes never change the verdict, but they still come before the passes.
    notes = [f for f in record["findings"] if not f["passed"]]
    assert page.text("#infos h2") == f"Notes ({len(notes)})"
    assert page.css("main > section, main > details").get_attribute("id") == "infos"
    page.css("#exchange summary").click()  # a person opens the request
    assert "GET /booking-and-referral/FHIR/R4/metadata" in page.css("#exchange details").text
    page.screenshot("passed-report")
    assert page.console_errors() == []


def test_the_zip_index_lists_each_report_and_links_to_it(emulator: Emulator, page: Page) -> None:
    ods = "Z" + uuid.uuid4().hex[:5].upper()
    failed, _ = stored_report(emulator, ods, SLOT)
    passed, _ = stored_report(emulator, ods, "/metadata")
    made = emulator.request(
        "POST",
        "/tkw/reports/download",
        bars_headers(ods=ods) | {"Content-Type": "application/json"},
        json.dumps({"ids": [failed["id"], passed["id"]]}).encode(),
    )
    assert made.status == 201
    with urllib.request.urlopen(made.json["url"], timeout=30) as response:
        archive = zipfile.ZipFile(io.BytesIO(response.read()))
    folder = ARTIFACTS / f"zip-{ods}"
    archive.extractall(folder)
    page.open((folder / "index.html").as_uri())

    assert page.text("h1") == "Validation reports"
    assert [li.text for li in page.all("ul.counts li")] == ["2 reports", "1 failed", "0 with warnings", "1 passed"]
    rows = page.all("table.index tbody tr")
    assert [r.find_element("css selector", ".verdict").text for r in rows] == ["Passed", "Failed"]  # newest first
    page.screenshot("zip-index")
    rows[1].find_element("link text", "report").click()
    page.wait(lambda: page.text("h1") == "Validation report: Failed", "the linked report")
