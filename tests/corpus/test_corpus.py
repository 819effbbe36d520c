"""Every case of the bad-input corpus (``tests/corpus/cases/*.yaml``), over raw HTTP.

``http.client`` sends exactly what a case says: duplicate headers, raw bytes in header values,
paths no URL library would build, bodies of any size. Each answer must have the case's status and
BaRS code, be a valid FHIR OperationOutcome when it is an error (valid FHIR when a success), echo
``X-Request-Id``, name a report that can be read back, and leave nothing logged at ERROR.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import http.client
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from bars_support import BASE, bars_headers, example
from emulator_support import Emulator
from fuzz.fuzz_support import fhir_problems, logged_failures, outcome_problems

CASES_DIR = Path(__file__).resolve().parent / "cases"
CORPUS_ODS = "CORPUS1"
KNOWN_KEYS = {
    "id",
    "why",
    "method",
    "path",
    "raw_path",
    "path_repeat",
    "headers",
    "extra_headers",
    "lower_case_names",
    "body",
    "body_json",
    "body_base64",
    "body_example",
    "body_parts",
    "set",
    "replace",
    "truncate",
    "prefix_base64",
    "expect",
}
EXPECT_KEYS = {"status", "code", "issue", "allow", "gateway"}


def load_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for file in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(file.read_text(encoding="utf-8")) or []:
            case["file"] = file.name
            cases.append(case)
    return cases


CASES = load_cases()


# ---- building the request --------------------------------------------------------------------


def expand(value: Any) -> Any:
    """``{repeat: s, times: n}`` anywhere in a value becomes the repeated text."""
    if isinstance(value, dict):
        if set(value) == {"repeat", "times"}:
            return str(value["repeat"]) * int(value["times"])
        if set(value) == {"parts"}:
            return "".join(expand(part) for part in value["parts"])
        return {k: expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v) for v in value]
    return value


def header_value(value: Any) -> str | bytes:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((kind, data),) = value.items()
        data = expand(data)
        compact = json.dumps(data, separators=(",", ":")).encode()
        match kind:
            case "b64json":
                return base64.b64encode(compact).decode()
            case "b64url_json":
                return base64.urlsafe_b64encode(compact).decode()
            case "b64":
                return base64.b64encode(str(data).encode()).decode()
            case "bytes_b64":
                return base64.b64decode(str(data))
            case "repeat":
                return str(expand(value))
    if isinstance(value, dict) and set(value) == {"repeat", "times"}:
        return str(expand(value))
    raise ValueError(f"unknown header value form {value!r}")


def _set_path(document: Any, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list) and int(last) == len(node):
        node.append(value)  # one past the end: a new item
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def build_body(case: dict[str, Any]) -> bytes | None:
    body: bytes | None = None
    if "body" in case:
        body = str(case["body"]).encode("utf-8")
    elif "body_base64" in case:
        body = base64.b64decode(case["body_base64"])
    elif "body_json" in case:
        body = json.dumps(expand(case["body_json"])).encode()
    elif "body_parts" in case:
        body = "".join(str(expand(part)) for part in case["body_parts"]).encode("utf-8")
    elif "body_example" in case:
        document = copy.deepcopy(example(case["body_example"]))
        for dotted, value in (case.get("set") or {}).items():
            _set_path(document, dotted, expand(value))
        text = json.dumps(document, ensure_ascii=False)
        for old, new in (case.get("replace") or {}).items():
            replacement = expand(new)
            text = text.replace(old, replacement if isinstance(replacement, str) else json.dumps(replacement))
        body = text.encode("utf-8")
    if body is not None and "truncate" in case:
        cut = int(case["truncate"])
        body = body[:cut]
    if body is not None and "prefix_base64" in case:
        body = base64.b64decode(case["prefix_base64"]) + body
    return body


@dataclass
class Built:
    method: str
    target: str  # the request target: path and query, as sent
    headers: list[tuple[str, str | bytes]]
    body: bytes | None
    request_id: str | None  # the single, ASCII X-Request-Id sent (to check the echo)
    organisation: str | None  # the NHSD-End-User-Organisation sent (to read the report back)


def build(case: dict[str, Any]) -> Built:
    method = case.get("method", "GET")
    target = case.get("raw_path") or BASE + case["path"]
    if "path_repeat" in case:
        target = target.replace("{repeat}", case["path_repeat"]["text"] * int(case["path_repeat"]["times"]))
    body = build_body(case)
    named: dict[str, Any] = dict(bars_headers(ods=CORPUS_ODS))
    if body is not None and method == "POST":
        named["Content-Type"] = "application/fhir+json"
    for name, value in (case.get("headers") or {}).items():
        for existing in [k for k in named if k.lower() == name.lower()]:
            del named[existing]
        if value is not None:
            named[name] = value
    headers: list[tuple[str, str | bytes]] = [(k, header_value(v)) for k, v in named.items()]
    headers += [(str(k), header_value(v)) for k, v in case.get("extra_headers") or []]
    if case.get("lower_case_names"):
        headers = [(k.lower() if i % 2 else k.upper(), v) for i, (k, v) in enumerate(headers)]
    ids = [v for k, v in headers if k.lower() == "x-request-id"]
    request_id = ids[0] if len(ids) == 1 and isinstance(ids[0], str) and ids[0].isascii() else None
    orgs = [v for k, v in headers if k.lower() == "nhsd-end-user-organisation"]
    organisation = orgs[0] if orgs and isinstance(orgs[0], str) else None
    return Built(method, target, headers, body, request_id, organisation)


# ---- sending it ------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    raw: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def send(emulator: Emulator, built: Built) -> Answer:
    url = urlsplit(emulator.root)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=120)
    try:
        conn.putrequest(built.method, built.target, skip_accept_encoding=True)
        for name, value in built.headers:
            conn.putheader(name, value)
        if built.body is not None:
            conn.putheader("Content-Length", str(len(built.body)))
        conn.endheaders()
        if built.body:
            # The server may answer before reading it all (a gateway refusal): that answer is read below.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                conn.send(built.body)
        response = conn.getresponse()
        return Answer(response.status, response.getheaders(), response.read())
    finally:
        conn.close()


# ---- the checks ------------------------------------------------------------------------------


def test_the_corpus_is_large_and_well_formed() -> None:
    ids = [case.get("id") for case in CASES]
    assert len(ids) >= 60
    assert len(set(ids)) == len(ids), "case ids must be unique"
    for case in CASES:
        assert set(case) - {"file"} <= KNOWN_KEYS, (case["id"], set(case) - KNOWN_KEYS - {"file"})
        assert set(case["expect"]) <= EXPECT_KEYS, case["id"]
        assert isinstance(case["expect"]["status"], int), case["id"]
        assert ("path" in case) != ("raw_path" in case), case["id"]
        if case["expect"]["status"] >= 400 and not case["expect"].get("gateway") and case.get("method") != "HEAD":
            assert case["expect"].get("code"), f"{case['id']}: an error case names its BaRS code"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input_gets_the_expected_bars_answer(case: dict[str, Any], corpus_emulator: Emulator) -> None:
    built = build(case)
    expect = case["expect"]
    log_start = len(corpus_emulator.output())
    answer = send(corpus_emulator, built)
    shown = answer.raw[:500]

    assert answer.status == expect["status"], f"{case['id']}: HTTP {answer.status}, body {shown!r}"
    if expect.get("gateway"):  # API Gateway's own refusal: its JSON, no function ran
        assert "message" in json.loads(answer.raw), shown
    elif built.method != "HEAD":
        content_type = answer.header("Content-Type") or ""
        assert content_type.startswith("application/fhir+json"), f"Content-Type {content_type!r}: {shown!r}"
        body = json.loads(answer.raw)
        if answer.status >= 400:
            assert outcome_problems(body) is None, (outcome_problems(body), shown)
            issue = body["issue"][0]
            assert issue["details"]["coding"][0]["code"] == expect["code"], shown
            if "issue" in expect:
                assert issue["code"] == expect["issue"], shown
            assert "Traceback" not in answer.raw.decode("utf-8", "replace"), "no stack traces to the sender"
        else:
            assert fhir_problems(body) is None, (fhir_problems(body), shown)
    if "allow" in expect:
        assert answer.header("Allow") == expect["allow"]
    if built.request_id is not None and not expect.get("gateway"):
        assert answer.header("X-Request-Id") == built.request_id.strip(), "X-Request-Id is echoed"

    report_id = answer.header("TKW-Report-Id")
    if report_id and built.organisation:
        headers = bars_headers(ods=CORPUS_ODS) | {"NHSD-End-User-Organisation": built.organisation}
        report = corpus_emulator.request("GET", f"/tkw/reports/{report_id}", headers)
        if report.status != 400:  # 400: the organisation header is unusable, the report is filed as unidentified
            assert report.status == 200, f"the report {report_id} the answer names cannot be read: {report.raw[:300]!r}"
            assert report.json["exchange"]["response_status"] == answer.status

    failures = logged_failures(corpus_emulator.output()[log_start:])
    assert not failures, "the emulator logged failures:\n" + "\n".join(failures[:20])
