"""A finished run as files: JSON (the record), HTML (for people), JUnit XML (for CI), and a zip.

The JSON report is the record (:class:`RunReport`); the other formats are rendered from it.
"""

from __future__ import annotations

import html
import io
import json
import zipfile
from xml.etree import ElementTree as ET

from tkw.receiver.models import RunReport, TestResult
from tkw.receiver.suite import load_suite

HTML_NAME = "report.html"
JSON_NAME = "results.json"
JUNIT_NAME = "junit.xml"
ZIP_NAME = "receiver-run.zip"
# Link name in the API -> file name in storage.
FILES = {"html": HTML_NAME, "json": JSON_NAME, "junit": JUNIT_NAME, "zip": ZIP_NAME}
CONTENT_TYPES = {
    HTML_NAME: "text/html; charset=utf-8",
    JSON_NAME: "application/json",
    JUNIT_NAME: "application/xml",
    ZIP_NAME: "application/zip",
}
_HTML_BODY_LIMIT = 20_000


def render_json(report: RunReport) -> bytes:
    return report.model_dump_json(indent=2).encode()


def application_name(application: str) -> str:
    """``Application 5: GP to community pharmacy (Pharmacy First)``; tests without one are "Other"."""
    if not application:
        return "Other tests"
    try:
        return f"Application {application}: {load_suite().application(application).name}"
    except KeyError:
        return f"Application {application}"


def by_application(results: list[TestResult]) -> list[tuple[str, list[TestResult]]]:
    """Results grouped by Application (in run order), happy path before error suite within each."""
    groups: dict[str, list[TestResult]] = {}
    for result in results:
        groups.setdefault(result.application, []).append(result)
    order = {"happy": 0, "error": 1}
    return [(a, sorted(rs, key=lambda r: order.get(r.suite, 2))) for a, rs in groups.items()]


def _counts(results: list[TestResult]) -> dict[str, str]:
    return {
        "tests": str(len(results)),
        "failures": str(sum(1 for r in results if r.status == "failed")),
        "errors": "0",
        "skipped": str(sum(1 for r in results if r.status == "skipped")),
    }


def _seconds(results: list[TestResult]) -> str:
    return f"{sum((r.duration_ms or 0) for r in results) / 1000:.3f}"


def render_junit(report: RunReport) -> bytes:
    """One ``<testsuite>`` per BaRS Application; each test case's classname names its suite."""
    results = report.results
    root = ET.Element(
        "testsuites",
        {"name": f"tkw receiver run {report.run.run_id}", **_counts(results), "time": _seconds(results)},
    )
    for application, members in by_application(results):
        suite = ET.SubElement(
            root,
            "testsuite",
            {
                "name": f"{report.suite}: {application_name(application)}",
                **_counts(members),
                "time": _seconds(members),
                "timestamp": report.run.started_at or report.run.created_at,
            },
        )
        properties = ET.SubElement(suite, "properties")
        for name, value in (
            ("application", application),
            ("run_id", report.run.run_id),
            ("endpoint", report.run.endpoint),
            ("target_identifier", report.run.target_identifier),
            ("suite_version", report.run.suite_version),
            ("mutual_tls", str(report.run.mutual_tls).lower()),
        ):
            ET.SubElement(properties, "property", {"name": name, "value": value})
        for result in members:
            _junit_case(suite, result)
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _junit_case(suite: ET.Element, result: TestResult) -> None:
    where = ".".join(p for p in (f"app{result.application}" if result.application else "", result.suite) if p)
    case = ET.SubElement(
        suite,
        "testcase",
        {
            "classname": f"bars.receiver.{where + '.' if where else ''}{result.group}",
            "name": f"{result.test_id}: {result.name}",
            "time": f"{(result.duration_ms or 0) / 1000:.3f}",
        },
    )
    failed = [c for c in result.checks if not c.passed and c.severity == "error"]
    warnings = [c for c in result.checks if not c.passed and c.severity == "warning"]
    if result.status == "skipped":
        ET.SubElement(case, "skipped", {"message": result.message})
    elif result.status == "failed":
        element = ET.SubElement(case, "failure", {"message": result.message, "type": "BaRS receiver check"})
        element.text = "\n".join(f"[{c.id}] {c.message}" for c in failed)
    lines = [f"[{c.id}] {'pass' if c.passed else c.severity}: {c.message}" for c in result.checks]
    if result.request is not None:
        lines.insert(0, f"{result.request.method} {result.request.url} -> HTTP {result.response_status}")
    ET.SubElement(case, "system-out").text = "\n".join(lines)
    if warnings:
        ET.SubElement(case, "system-err").text = "\n".join(f"warning [{c.id}] {c.message}" for c in warnings)


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#212b32}
h1{font-size:1.5rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #d8dde0;padding:.35rem .5rem;text-align:left;vertical-align:top}
.passed{color:#007f3b;font-weight:600}.failed,.error{color:#d5281b;font-weight:600}
.skipped,.pending,.warning{color:#8a6d00;font-weight:600}
pre{background:#f0f4f5;padding:.5rem;overflow:auto;max-height:24rem;white-space:pre-wrap}
details{margin:.75rem 0;border:1px solid #d8dde0;padding:.5rem}summary{cursor:pointer}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{font-weight:600}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pretty(body: str | None) -> str:
    if not body:
        return ""
    try:
        text = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        text = body
    if len(text) > _HTML_BODY_LIMIT:
        text = text[:_HTML_BODY_LIMIT] + f"\n… ({len(text) - _HTML_BODY_LIMIT} more characters in {JSON_NAME})"
    return text


def _test_details(result: TestResult) -> str:
    rows = "".join(
        f"<tr><td class='{'passed' if c.passed else c.severity}'>{'pass' if c.passed else _e(c.severity)}</td>"
        f"<td>{_e(c.id)}</td><td>{_e(c.message)}</td></tr>"
        for c in result.checks
    )
    parts = [
        f"<details id='{_e(result.test_id)}'><summary><span class='{_e(result.status)}'>{_e(result.status)}</span> "
        f"<b>{_e(result.test_id)}</b> {_e(result.name)}: {_e(result.message)}</summary>",
        f"<table><tr><th>Result</th><th>Check</th><th>Expected / found</th></tr>{rows}</table>",
    ]
    if result.request is not None:
        headers = "\n".join(f"{k}: {v}" for k, v in result.request.headers.items())
        parts.append(
            f"<h4>Request</h4><pre>{_e(result.request.method)} {_e(result.request.url)}\n{_e(headers)}</pre>"
            + (f"<pre>{_e(_pretty(result.request.body))}</pre>" if result.request.body else "")
        )
    if result.response is not None:
        headers = "\n".join(f"{k}: {v}" for k, v in result.response.headers.items())
        note = " (no answer: what the BaRS proxy would send)" if result.response.synthesized else ""
        parts.append(
            f"<h4>Response{_e(note)}</h4><pre>HTTP {result.response.status} in {result.response.elapsed_ms:.0f} ms\n"
            f"{_e(headers)}</pre><pre>{_e(_pretty(result.response.body))}</pre>"
        )
    parts.append("</details>")
    return "".join(parts)


def render_html(report: RunReport) -> bytes:
    run = report.run
    summary = run.summary
    facts = [
        ("Run", run.run_id),
        ("Status", run.status),
        ("Receiver", run.endpoint),
        ("Target (DoS service id)", run.target_identifier),
        ("TLS-MA client certificate", "presented" if run.mutual_tls else "none"),
        ("Created", run.created_at),
        ("Started", run.started_at or ""),
        ("Finished", run.finished_at or ""),
        ("Tests", f"{summary.passed} passed, {summary.failed} failed, {summary.skipped} skipped of {summary.total}"),
    ]
    if run.reason:
        facts.append(("Reason", run.reason))
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    rows = ""
    for application, members in by_application(report.results):
        passed = sum(1 for r in members if r.status == "passed")
        rows += f"<tr><th colspan='6'>{_e(application_name(application))}: {passed} of {len(members)} passed</th></tr>"
        for kind in dict.fromkeys(r.suite for r in members):
            label = {"happy": "Happy path", "error": "Error suite"}.get(kind, "Tests")
            rows += f"<tr><th></th><th colspan='5'>{_e(label)}</th></tr>"
            rows += "".join(
                f"<tr><td class='{_e(r.status)}'>{_e(r.status)}</td>"
                f"<td><a href='#{_e(r.test_id)}'>{_e(r.test_id)}</a></td>"
                f"<td>{_e(r.name)}</td><td>{_e(r.response_status or '')}</td>"
                f"<td>{'' if r.duration_ms is None else f'{r.duration_ms:.0f} ms'}</td><td>{_e(r.message)}</td></tr>"
                for r in members
                if r.suite == kind
            )
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(report.suite)}: run {_e(run.run_id)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{_e(report.suite)} <span class='{_e(run.status)}'>{_e(run.status)}</span></h1><dl>{dl}</dl>"
        "<h2>Tests</h2><table><tr><th>Result</th><th>Test</th><th>Name</th><th>HTTP</th><th>Time</th>"
        f"<th>Summary</th></tr>{rows}</table><h2>Details</h2>"
        + "".join(_test_details(r) for r in report.results)
        + "</body></html>"
    )
    return page.encode()


def render_all(report: RunReport) -> dict[str, bytes]:
    """Every report file, by file name (the zip holds the others plus one exchange per test)."""
    files = {HTML_NAME: render_html(report), JSON_NAME: render_json(report), JUNIT_NAME: render_junit(report)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for position, result in enumerate(report.results, start=1):
            exchange = {
                "test_id": result.test_id,
                "status": result.status,
                "checks": [c.model_dump() for c in result.checks],
                "request": result.request.model_dump() if result.request else None,
                "response": result.response.model_dump() if result.response else None,
            }
            archive.writestr(
                f"exchanges/{position:02d}-{result.test_id}.json", json.dumps(exchange, indent=2, ensure_ascii=False)
            )
    files[ZIP_NAME] = buffer.getvalue()
    return files
