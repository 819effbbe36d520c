"""HTML renderings of report records, for people: one report, and the index page of a zip.

Pages are self-contained (inline CSS, one inline script allowed by hash, a Content-Security-Policy
that forbids loading anything), readable on a phone, and printable (every collapsed section opens
for printing). Every value that came from a request or a response is HTML-escaped.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Sequence
from html import escape

from tkw.reports.model import ReportRecord
from tkw.validation.findings import PROFILE_PACKAGES_CHECK, Finding, Verdict

# Bodies bigger than this are cut in the HTML; the JSON record always has them whole.
MAX_BODY_CHARS = 256 * 1024

VERDICT_LABELS: dict[Verdict, str] = {"pass": "Passed", "warnings": "Passed with warnings", "fail": "Failed"}
SEVERITY_TITLES = {"error": "Errors", "warning": "Warnings", "info": "Notes"}

_CSS = """
:root{--fail:#b00020;--warn:#8a5300;--pass:#1b6e2d;--info:#33577a;--line:#d8dde3;--soft:#f4f6f8;--ink:#1d232a}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:var(--ink);background:#fff}
header.top,main,footer{max-width:60rem;margin:0 auto;padding:1rem}
header.top{border-bottom:4px solid var(--line)}
header.top.fail{border-color:var(--fail)}header.top.warnings{border-color:var(--warn)}header.top.pass{border-color:var(--pass)}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.2rem;margin:1.5rem 0 .5rem}
.verdict{display:inline-block;padding:.1rem .6rem;border-radius:.3rem;color:#fff;font-weight:700}
.verdict.fail{background:var(--fail)}.verdict.warnings{background:var(--warn)}.verdict.pass{background:var(--pass)}
.counts{display:flex;flex-wrap:wrap;gap:.5rem;padding:0;margin:.7rem 0;list-style:none}
.counts li{padding:.2rem .6rem;border:1px solid var(--line);border-radius:1rem;background:var(--soft)}
.counts .n{font-weight:700}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}
dl.facts dt{font-weight:600}dl.facts dd{margin:0;overflow-wrap:anywhere}
ol.findings{list-style:none;padding:0;margin:0}
.finding{border:1px solid var(--line);border-left:6px solid var(--line);border-radius:.3rem;
 padding:.5rem .8rem;margin:.5rem 0}
.finding.error{border-left-color:var(--fail)}.finding.warning{border-left-color:var(--warn)}
.finding.info{border-left-color:var(--info)}.finding.passed{border-left-color:var(--pass)}
.where{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9rem;overflow-wrap:anywhere}
.profile{margin-left:.8rem}h3.resource{font-size:1rem;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,
 monospace;overflow-wrap:anywhere}
.why{margin:.3rem 0}.rule{margin:0;color:#555;font-size:.85rem}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem}
pre{background:var(--soft);border:1px solid var(--line);padding:.6rem;overflow-x:auto;white-space:pre-wrap;
 overflow-wrap:anywhere;max-height:40rem}
details{border:1px solid var(--line);border-radius:.3rem;margin:.5rem 0;padding:.3rem .8rem}
summary{cursor:pointer;font-weight:600;padding:.2rem 0}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid var(--line);padding:.3rem .4rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:var(--soft)}
.none{color:#555;font-style:italic}
footer{color:#555;font-size:.8rem;border-top:1px solid var(--line)}
@media (max-width:40rem){body{font-size:15px}dl.facts{grid-template-columns:1fr}dl.facts dt{margin-top:.4rem}
 table.index thead{display:none}table.index tr{display:block;border-bottom:2px solid var(--line)}
 table.index td{display:block;border:0}}
@media print{body{font-size:11pt}header.top,main,footer{max-width:none;padding:0}pre{max-height:none}
 details{border:0;padding:0}details::details-content{content-visibility:visible;display:block}
 .finding{break-inside:avoid}a{color:inherit}}
"""
# Opens every <details> for printing (browsers print collapsed sections collapsed).
_SCRIPT = (
    'addEventListener("beforeprint",function(){'
    'document.querySelectorAll("details").forEach(function(d){d.open=true})});'
)
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
_CSP = (
    f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{_SCRIPT_HASH}'; "
    "base-uri 'none'; form-action 'none'"
)


def e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def report_file(report_id: str, extension: str) -> str:
    """The file name of a report inside a zip (index.html links to these)."""
    return f"{report_id}.{extension}"


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{e(_CSP)}">\n'
        '<meta name="robots" content="noindex">\n'
        f"<title>{e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n"
        f"<script>{_SCRIPT}</script>\n</body>\n</html>\n"
    )


def _counts(record: ReportRecord) -> str:
    c = record.counts
    items = (
        (c.errors, "error" if c.errors == 1 else "errors"),
        (c.warnings, "warning" if c.warnings == 1 else "warnings"),
        (c.info, "note" if c.info == 1 else "notes"),
        (c.passed, "check passed" if c.passed == 1 else "checks passed"),
    )
    return (
        '<ul class="counts">' + "".join(f'<li><span class="n">{n}</span> {label}</li>' for n, label in items) + "</ul>"
    )


def _facts(pairs: Iterable[tuple[str, object]]) -> str:
    none = '<span class="none">none</span>'
    rows = "".join(f"<dt>{e(k)}</dt><dd>{e(v) if v not in (None, '') else none}</dd>" for k, v in pairs)
    return f'<dl class="facts">{rows}</dl>'


def _finding(finding: Finding) -> str:
    kind = "passed" if finding.passed else finding.severity
    where = f'<div class="where">{e(finding.location)}</div>' if finding.location else ""
    answer = ""
    if not finding.passed and finding.severity == "error":
        answer = f" · a BaRS receiver would answer {e(finding.bars_code)} ({e(finding.issue_code)})"
    return (
        f'<li class="finding {kind}">{where}<p class="why">{e(finding.message)}</p>'
        f'<p class="rule">Check <code>{e(finding.id)}</code> · {e(finding.category)}{answer}</p></li>'
    )


def _profile_finding(finding: Finding) -> str:
    kind = "passed" if finding.passed else finding.severity
    where = f'<div class="where">{e(finding.location)}</div>' if finding.location else ""
    demanded = f" · <code>{e(finding.element)}</code> in {e(finding.profile)}" if finding.profile else ""
    return (
        f'<li class="finding {kind}">{where}<p class="why">{e(finding.message)}</p>'
        f'<p class="rule">Check <code>{e(finding.id)}</code>{demanded}</p></li>'
    )


def _by_resource(findings: Sequence[Finding]) -> str:
    """Profile findings grouped by the resource they are about, each with its element path."""
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.resource or "The message", []).append(finding)
    return "".join(
        f'<h3 class="resource">{e(resource)} ({len(items)})</h3>'
        f'<ol class="findings">{"".join(_profile_finding(f) for f in items)}</ol>'
        for resource, items in groups.items()
    )


def _findings_section(severity: str, findings: Sequence[Finding]) -> str:
    if not findings:
        return ""
    title = f"{SEVERITY_TITLES[severity]} ({len(findings)})"
    checks = [f for f in findings if f.category != "profile"]
    profile = [f for f in findings if f.category == "profile"]
    items = f'<ol class="findings">{"".join(_finding(f) for f in checks)}</ol>' if checks else ""
    if profile:
        items += f'<h3>Against the profiles ({len(profile)})</h3><div class="profile">{_by_resource(profile)}</div>'
    return f'<section id="{severity}s"><h2>{e(title)}</h2>{items}</section>'


def _pretty_body(text: str | None, content_type: str | None = None) -> str:
    if text is None or text == "":
        return '<p class="none">No body.</p>'
    shown = text
    # Pretty-printing a body that is cut anyway costs seconds for megabytes (the indenting encoder
    # is pure Python): only bodies shown whole are re-indented.
    if text.lstrip()[:1] in ("{", "[") and len(text) <= MAX_BODY_CHARS:
        try:
            shown = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except (ValueError, RecursionError):
            shown = text
    note = ""
    if len(shown) > MAX_BODY_CHARS:
        note = (
            f'<p class="none">Cut at {MAX_BODY_CHARS:,} characters of {len(shown):,}: the JSON report has it all.</p>'
        )
        shown = shown[:MAX_BODY_CHARS]
    return f"{note}<pre>{e(shown)}</pre>"


def _headers_table(headers: Iterable[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><th scope=row>{e(k)}</th><td><code>{e(v)}</code></td></tr>" for k, v in headers)
    return f"<table>{rows}</table>" if rows else '<p class="none">No headers.</p>'


def _exchange(record: ReportRecord) -> str:
    x = record.exchange
    query = "&".join(f"{k}={v}" for k, vs in x.query.items() for v in vs)
    request_line = f"{x.method} {x.path}" + (f"?{query}" if query else "")
    request_headers = sorted((k, v) for k, vs in x.request_headers.items() for v in vs)
    response_headers = sorted(x.response_headers.items())
    return (
        '<section id="exchange"><h2>Exchange</h2>'
        f"<details><summary>Request: {e(request_line)}</summary>"
        f"<h3>Headers</h3>{_headers_table(request_headers)}<h3>Body</h3>{_pretty_body(x.request_body)}</details>"
        f"<details><summary>Response: HTTP {e(x.response_status)}</summary>"
        f"<h3>Headers</h3>{_headers_table(response_headers)}<h3>Body</h3>{_pretty_body(x.response_body)}</details>"
        "</section>"
    )


def _responses(record: ReportRecord) -> str:
    """The responses this request triggered, each linked to its own (outbound) report."""
    if not record.responses:
        return ""
    items = "".join(
        f'<li class="response {e(r.status)}"><strong>{e(r.title)}</strong>: {e(r.status)}. {e(r.summary)}'
        + (f' <a href="{e(r.report_id)}?format=html">Report {e(r.report_id)}</a>' if r.report_id else "")
        + "</li>"
        for r in sorted(record.responses, key=lambda r: r.step)
    )
    return f'<section id="responses"><h2>Responses sent to your endpoint</h2><ol>{items}</ol></section>'


def _packages(record: ReportRecord) -> str:
    """The FHIR package versions the profile findings come from (every report names them)."""
    named = next((f.message for f in record.findings if f.id == PROFILE_PACKAGES_CHECK), "")
    return f". {e(named.rstrip('.'))}" if named else ""


def render_report(record: ReportRecord) -> str:
    """The HTML page of one report: verdict and counts, failures first (where and why), then the exchange."""
    x = record.exchange
    label = VERDICT_LABELS[record.verdict]
    failures = record.failures
    by_severity = {s: [f for f in failures if f.severity == s] for s in ("error", "warning", "info")}
    passes = record.passes
    passed_block = (
        f'<details id="passed"><summary>Passed checks ({len(passes)})</summary>'
        f'<ol class="findings">{"".join(_finding(f) for f in passes)}</ol></details>'
        if passes
        else ""
    )
    nothing_wrong = "" if failures else "<p>Every check passed.</p>"
    facts = _facts(
        (
            ("Report id", record.id),
            ("Time (UTC)", record.time.isoformat().replace("+00:00", "Z")),
            ("Organisation (ODS)", record.organisation),
            ("Target", record.target),
            ("Request", f"{x.method} {x.path}"),
            ("Response", f"HTTP {x.response_status}"),
            ("Scenario", record.scenario),
            ("Judged against", _judged(record)),
            ("X-Request-Id", record.request_id),
            ("X-Correlation-Id", record.correlation_id),
            *(
                (
                    ("Direction", "outbound: a response the emulator sent to your endpoint"),
                    ("Triggered by report", record.trigger_report_id),
                )
                if record.direction == "outbound"
                else ()
            ),
        )
    )
    body = (
        f'<header class="top {record.verdict}">'
        f'<h1>Validation report: <span class="verdict {record.verdict}">{e(label)}</span></h1>'
        f"{_counts(record)}{facts}</header>\n"
        f"<main>{_responses(record)}{nothing_wrong}"
        + "".join(_findings_section(s, by_severity[s]) for s in ("error", "warning", "info"))
        + passed_block
        + _exchange(record)
        + "</main>\n"
        "<footer>Generated by tkw-emulator, an emulator of NHS Digital's TKW for the BaRS FHIR R4 API. FHIR "
        "structure is checked with fhir.resources R4B, the closest model to R4 it ships"
        + _packages(record)
        + ".</footer>"
    )
    return _page(f"{label}: {x.method} {x.path} ({record.id})", body)


def _judged(record: ReportRecord) -> str | None:
    judged = record.judged_against
    if judged is None:
        return None
    workflow = f" · {judged.workflow}" if judged.workflow else ""
    return f"{judged.title}{workflow}. Why: {judged.why}." if judged.why else f"{judged.title}{workflow}"


def render_index(records: Iterable[ReportRecord]) -> str:
    """The index page of a zip of reports: one row per report, newest first, linking to each file."""
    ordered = sorted(records, key=lambda r: r.time, reverse=True)
    tally = {v: sum(1 for r in ordered if r.verdict == v) for v in ("fail", "warnings", "pass")}
    organisations = sorted({r.organisation for r in ordered})
    rows = "".join(
        "<tr>"
        f"<td>{e(r.time.isoformat().replace('+00:00', 'Z'))}</td>"
        f'<td><span class="verdict {r.verdict}">{e(VERDICT_LABELS[r.verdict])}</span></td>'
        f"<td><code>{e(r.exchange.method)} {e(r.exchange.path)}</code></td>"
        f"<td>{e(r.exchange.response_status)}</td>"
        f"<td>{r.counts.errors} / {r.counts.warnings}</td>"
        f"<td>{e(r.scenario or '')}</td>"
        f'<td><a href="{e(report_file(r.id, "html"))}">report</a> · '
        f'<a href="{e(report_file(r.id, "json"))}">json</a></td>'
        "</tr>"
        for r in ordered
    )
    table = (
        '<table class="index"><thead><tr><th>Time (UTC)</th><th>Verdict</th><th>Request</th><th>Status</th>'
        f"<th>Errors / warnings</th><th>Scenario</th><th>Files</th></tr></thead><tbody>{rows}</tbody></table>"
        if ordered
        else '<p class="none">No reports.</p>'
    )
    counts = (
        '<ul class="counts">'
        f'<li><span class="n">{len(ordered)}</span> reports</li>'
        f'<li><span class="n">{tally["fail"]}</span> failed</li>'
        f'<li><span class="n">{tally["warnings"]}</span> with warnings</li>'
        f'<li><span class="n">{tally["pass"]}</span> passed</li></ul>'
    )
    verdict = "fail" if tally["fail"] else "warnings" if tally["warnings"] else "pass"
    body = (
        f'<header class="top {verdict}"><h1>Validation reports</h1>{counts}'
        f"{_facts((('Organisation (ODS)', ', '.join(organisations)),))}</header>\n"
        f"<main>{table}</main>\n<footer>Generated by tkw-emulator.</footer>"
    )
    return _page("Validation reports", body)


def render_notice(title: str, message: str) -> str:
    """A plain page saying why something cannot be shown (e.g. a share link that has expired)."""
    return _page(title, f"<main>\n<h1>{e(title)}</h1>\n<p>{e(message)}</p>\n</main>")
