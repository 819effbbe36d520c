"""The HTML report: verdict first, failures with where and why, collapsible exchange, all escaped."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime
from html.parser import HTMLParser

from reports_support import booking_exchange, booking_report

from tkw.http import ApiResponse
from tkw.reports import build_report, render_index, render_report
from tkw.reports.html import MAX_BODY_CHARS
from tkw.validation import Finding

HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of <script> elements."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for t, attrs in self.tags if t == tag]


def text_position(html: str, needle: str) -> int:
    index = html.find(needle)
    assert index >= 0, f"{needle!r} not in the page"
    return index


def test_verdict_and_counts_come_first() -> None:
    record = booking_report(broken=True)
    html = render_report(record)
    assert "<h1>Validation report: " in html and ">Failed</span>" in html
    counts = text_position(html, f'<span class="n">{record.counts.errors}</span> errors')
    assert counts < text_position(html, 'id="errors"') < text_position(html, 'id="exchange"')


def test_failures_come_first_with_where_and_why() -> None:
    record = booking_report(broken=True)
    html = render_report(record)
    errors_at = text_position(html, 'id="errors"')
    warnings_at = text_position(html, 'id="warnings"')
    passed_at = text_position(html, 'id="passed"')
    assert errors_at < warnings_at < passed_at
    birth_date = text_position(html, "Bundle.entry[2].resource(Patient).birthDate")
    assert errors_at < birth_date < warnings_at
    assert "Bundle.type must be &#x27;message&#x27;" in html
    assert "a BaRS receiver would answer REC_BAD_REQUEST" in html


def test_request_and_response_are_collapsible() -> None:
    html = render_report(booking_report())
    summaries = re.findall(r"<details><summary>([^<]*)</summary>", html)
    assert "Request: POST /booking-and-referral/FHIR/R4/$process-message" in summaries
    assert "Response: HTTP 200" in summaries
    assert "Bearer [redacted]" in html and "s3cr3t" not in html
    assert "&quot;resourceType&quot;: &quot;Bundle&quot;" in html, "bodies are pretty-printed and escaped"


def test_page_is_self_contained_phone_friendly_and_printable() -> None:
    html = render_report(booking_report())
    page = Elements(html)
    assert page.named("link") == [] and page.named("img") == [] and page.named("iframe") == []
    assert all(attrs.get("src") is None for _, attrs in page.tags)
    assert "@import" not in html and "url(" not in html and "http-equiv" in html
    assert any(m.get("name") == "viewport" for m in page.named("meta"))
    assert "@media print" in html and "@media (max-width" in html
    csp = next(m["content"] for m in page.named("meta") if m.get("http-equiv") == "Content-Security-Policy")
    assert csp is not None and "default-src 'none'" in csp
    # The only script is the print helper, and the CSP allows exactly it.
    assert len(page.scripts) == 1
    digest = base64.b64encode(hashlib.sha256(page.scripts[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp


def test_everything_from_the_exchange_is_escaped() -> None:
    request, _, _ = booking_exchange(**{"X-Correlation-Id": HOSTILE, "X-Hostile": HOSTILE})
    response = ApiResponse(400, f"</pre>{HOSTILE}", content_type="text/plain")
    finding = Finding(id="x.y", category="headers", severity="error", passed=False, message=HOSTILE, location=HOSTILE)
    record = build_report(
        request=request, response=response, findings=[finding], organisation="A1001", scenario=HOSTILE
    )
    html = render_report(record)
    page = Elements(html)
    assert len(page.scripts) == 1, "no injected script"
    assert page.named("img") == []
    assert not any(k.startswith("on") for _, attrs in page.tags for k in attrs)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_large_bodies_are_cut_in_html_only() -> None:
    request, _, _ = booking_exchange()
    big = "x" * (MAX_BODY_CHARS + 10)
    record = build_report(
        request=request, response=ApiResponse(200, big, content_type="text/plain"), findings=[], organisation="A1001"
    )
    html = render_report(record)
    assert "the JSON report has it all" in html
    assert big not in html and record.exchange.response_body == big


def test_index_lists_reports_newest_first_with_links() -> None:
    older = booking_report(time=datetime(2026, 1, 1, 9, tzinfo=UTC))
    newer = booking_report(broken=True, time=datetime(2026, 1, 2, 9, tzinfo=UTC), scenario=HOSTILE)
    html = render_index([older, newer])
    links = [a["href"] for a in Elements(html).named("a")]
    assert links == [f"{newer.id}.html", f"{newer.id}.json", f"{older.id}.html", f"{older.id}.json"]
    assert '<span class="n">2</span> reports' in html and '<span class="n">1</span> failed' in html
    assert "&lt;script&gt;" in html and len(Elements(html).scripts) == 1


def test_index_of_nothing() -> None:
    assert "No reports." in render_index([])


def test_page_shows_the_application_and_use_case_judged_and_why() -> None:
    html = render_report(booking_report())
    assert "<dt>Judged against</dt>" in html
    assert "Application 1 (Booking and Referrals into UEC), use case a1t1 111 to ED" in html
    assert "Why: " in html
