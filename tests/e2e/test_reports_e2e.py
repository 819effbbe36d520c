"""Validation reports over HTTP: every BaRS call gets one; list, read, download, zip, isolation."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
import uuid
import zipfile

from bars_support import bars_headers, example, with_use_case
from emulator_support import Emulator


def book(emulator: Emulator, ods: str, bundle: dict | None = None, **extra: str) -> tuple[str, str]:
    headers = bars_headers(ods=ods) | {"Content-Type": "application/fhir+json"} | extra
    body = json.dumps(bundle or example("process_message/POST-body.json")).encode()
    result = emulator.bars("POST", "/$process-message", headers, body)
    report_id = result.header("TKW-Report-Id")
    assert report_id, "every BaRS response names its report"
    return report_id, headers["X-Correlation-Id"]


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return bytes(resp.read())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_a_booking_report_can_be_listed_read_and_downloaded(emulator: Emulator) -> None:
    ods = "R" + uuid.uuid4().hex[:5].upper()
    report_id, correlation_id = book(emulator, ods)

    listed = emulator.request("GET", f"/tkw/reports?correlation_id={correlation_id}", bars_headers(ods=ods))
    assert listed.status == 200
    assert [r["id"] for r in listed.json["reports"]] == [report_id]

    record = emulator.request("GET", f"/tkw/reports/{report_id}", bars_headers(ods=ods))
    assert record.status == 200
    body = record.json
    assert body["id"] == report_id
    assert body["exchange"]["response_status"] == 200
    assert body["verdict"] in ("pass", "warnings", "fail")
    # No use-context header was sent, and the example's destination is another service: both
    # are reported as errors, with where, while the sender still got its 200.
    failed = {f["location"]: f for f in body["findings"] if not f["passed"]}
    assert failed["http.use-context"]["severity"] == "error"
    assert any(loc.endswith("destination[0].endpoint") for loc in failed)
    assert body["verdict"] == "fail"

    html = emulator.request("GET", f"/tkw/reports/{report_id}", bars_headers(ods=ods) | {"Accept": "text/html"})
    assert html.status == 200
    assert html.header("Content-Type") or "".startswith("text/html")
    assert report_id in html.raw.decode()

    opener = urllib.request.build_opener(_NoRedirect)
    req = urllib.request.Request(emulator.root + f"/tkw/reports/{report_id}/download", headers=bars_headers(ods=ods))
    try:
        opener.open(req, timeout=30)
        raise AssertionError("expected a redirect")
    except urllib.error.HTTPError as redirect:
        assert redirect.code == 302
        location = redirect.headers["Location"]
    assert report_id in fetch(location).decode()


def test_reports_zip_holds_html_and_json_of_each(emulator: Emulator) -> None:
    ods = "Z" + uuid.uuid4().hex[:5].upper()
    ids = [book(emulator, ods)[0] for _ in range(2)]
    zipped = emulator.request(
        "POST",
        "/tkw/reports/download",
        bars_headers(ods=ods) | {"Content-Type": "application/json"},
        json.dumps({"ids": ids}).encode(),
    )
    assert zipped.status == 201, zipped.raw[:300]
    archive = zipfile.ZipFile(io.BytesIO(fetch(zipped.json["url"])))
    names = archive.namelist()
    assert "index.html" in names
    for report_id in ids:
        assert any(n.endswith(f"{report_id}.json") for n in names)
        assert any(n.endswith(f"{report_id}.html") for n in names)


def test_one_organisation_never_sees_anothers_report(emulator: Emulator) -> None:
    report_id, _ = book(emulator, "OWNER1")
    other = emulator.request("GET", f"/tkw/reports/{report_id}", bars_headers(ods="OTHER1"))
    assert other.status == 404


def test_a_reused_request_id_is_reported_as_a_duplicate(emulator: Emulator) -> None:
    ods = "D" + uuid.uuid4().hex[:5].upper()
    request_id = str(uuid.uuid4())
    book(emulator, ods, **{"X-Request-Id": request_id})
    second, _ = book(emulator, ods, **{"X-Request-Id": request_id})
    record = emulator.request("GET", f"/tkw/reports/{second}", bars_headers(ods=ods)).json
    duplicates = [f for f in record["findings"] if not f["passed"] and f["bars_code"] == "REC_CONFLICT"]
    assert duplicates and "X-Request-Id" in duplicates[0]["location"]


def test_a_sender_that_hangs_up_before_its_answer_still_gets_its_report(emulator: Emulator) -> None:
    # The local runner hands a request's report job to the report worker once the answer is written:
    # an answer that cannot be written (the sender reset the connection) must not lose the report.
    import socket
    import struct
    import time
    from urllib.parse import urlsplit

    ods = "H" + uuid.uuid4().hex[:5].upper()
    headers = bars_headers(ods=ods) | {"Content-Type": "application/fhir+json"}
    body = json.dumps(example("process_message/POST-body.json")).encode()
    head = f"POST {urlsplit(emulator.base).path}/$process-message HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head += f"Content-Length: {len(body)}\r\n\r\n"
    where = urlsplit(emulator.root)
    with socket.create_connection((where.hostname, where.port), timeout=30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = reset
        sock.sendall(head.encode() + body)
    listed: list[dict] = []
    deadline = time.monotonic() + 15
    while not listed and time.monotonic() < deadline:
        time.sleep(0.2)
        path = f"/tkw/reports?correlation_id={headers['X-Correlation-Id']}"
        listed = emulator.request("GET", path, bars_headers(ods=ods)).json["reports"]
    assert len(listed) == 1, "the report of a request whose sender hung up was lost"


def test_a_refused_request_still_gets_a_report_saying_why(emulator: Emulator) -> None:
    ods = "E" + uuid.uuid4().hex[:5].upper()
    headers = bars_headers(ods=ods, target_value=None)
    result = emulator.bars("GET", "/Slot", headers)
    assert result.status == 400
    report_id = result.header("TKW-Report-Id")
    record = emulator.request("GET", f"/tkw/reports/{report_id}", bars_headers(ods=ods)).json
    assert record["verdict"] == "fail"
    assert any("NHSD-Target-Identifier" in f["location"] for f in record["findings"] if not f["passed"])


def test_strict_mode_turns_error_findings_into_400() -> None:
    from emulator_support import start_emulator, stop_emulator

    strict = start_emulator({"STRICT_MODE": "true"})
    try:
        headers = bars_headers() | {"Content-Type": "application/fhir+json"}
        result = strict.bars(
            "POST", "/$process-message", headers, json.dumps(example("process_message/POST-body.json")).encode()
        )
        assert result.status == 400
        issues = result.json["issue"]
        assert all(i["details"]["coding"][0]["code"] == "REC_BAD_REQUEST" for i in issues)
        assert any("http.use-context" in i.get("expression", []) + i.get("location", []) for i in issues)
        fixed = headers | {"use-context": "a1t1|booking|booking-request|new", "X-Request-Id": str(uuid.uuid4())}
        # The 1.0.0 example predates use-case categories: a clean booking carries one (App 1 payload).
        bundle = with_use_case(example("process_message/POST-body.json"))
        bundle["entry"][0]["resource"]["destination"][0]["endpoint"] = (
            "https://fhir.nhs.uk/Id/dos-service-id|2000011147"
        )
        assert strict.bars("POST", "/$process-message", fixed, json.dumps(bundle).encode()).status == 200
    finally:
        stop_emulator(strict)
