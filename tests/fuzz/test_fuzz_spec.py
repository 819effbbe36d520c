"""Fuzzing the emulator with schemathesis, driven by the official BaRS OpenAPI (API 1.0.0).

Every operation of ``tests/fixtures/bars-spec/booking-and-referral.yaml`` gets positive and negative
cases (schemathesis 4, over real HTTP against the local runner), and ``$process-message`` also gets
mutated official message Bundles. The oracle (``fuzz_support``): no 5xx but the sentinel ones,
every error a valid FHIR OperationOutcome with a BaRS code, every success valid FHIR, transaction
headers echoed, and nothing logged at ERROR by the emulator.

Headers: the spec's header schemas are thin (``format: byte`` for the base64 headers), so the
values schemathesis draws almost never decode. Each case therefore draws a header style:
``bars`` replaces the transaction ids, the target and the organisation with valid BaRS values
(so the case reaches the scenario logic with the spec's generated query, path and body), ``spec``
keeps schemathesis' values. Either way headers a case lacks are filled with valid ones, unless the
case is negative *in its headers* (then a missing header is the point and stays missing).

Bounded and reproducible inside ``make test`` (``TKW_FUZZ_CASES``, default 100 per operation,
derandomized); ``make fuzz`` runs more (``TKW_FUZZ_CASES``, and ``TKW_FUZZ_SEED`` for new inputs).
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests
from bars_support import BASE, DOS, SPEC, bars_headers
from emulator_support import Emulator
from fuzz.bundles import message_bundles
from fuzz.fuzz_support import Sent, answer_problems, logged_failures
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

SPEC_FILE = SPEC / "booking-and-referral.yaml"
FUZZ_CASES = int(os.environ.get("TKW_FUZZ_CASES") or 100)
FUZZ_SEED = os.environ.get("TKW_FUZZ_SEED") or None
FUZZ_ODS = "FUZZ1"
NHS = "https://fhir.nhs.uk/Id/nhs-number"

OPERATIONS = (
    "GET /metadata",
    "GET /MessageDefinition",
    "POST /$process-message",
    "GET /Slot",
    "GET /Appointment",
    "GET /Appointment/{id}",
    "GET /ServiceRequest",
    "GET /ServiceRequest/{id}",
)
# The headers that decide whether a request reaches the scenario logic.
IDENTITY = ("X-Request-Id", "X-Correlation-Id", "NHSD-Target-Identifier", "NHSD-End-User-Organisation")
TARGETS = ("2000011147", "2000076289", "2000094704", "2000011149", "2000072489")
# Sentinel values for the parameter that picks a scenario (None: keep what schemathesis drew).
_PATIENTS = (f"{NHS}|9054613556", "9054613556", f"{NHS}|9707606312", f"{NHS}|", "|9054613556")
_APPOINTMENTS = ("ce1c4ced-2a84-4198-9982-9caf894d0bb7", "0d440c22-7f25-4c6c-905d-2213d197d02a")
_SERVICE_REQUESTS = (
    "79120f41-a431-4f08-bcc5-1e67006fcae0",
    "61215702-0049-4d76-9807-2123f0a6ca15",
    "9d280ad9-6dda-46d2-a75e-f5b47b2f4e87",
    "4d65ddaa-4d09-41cd-87c9-aeb9c0c96352",
    "C337E8D8-FD5B-4A13-A8E4-0F6F4AC1BB1A",
    "0b42eac3-0175-43c8-bbab-efaa8ca31ccf",
)
HINTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "GET /MessageDefinition": (
        "query",
        "context",
        (f"{DOS}|2000011147", "2000076289", "2000008878", "FAIL0401", f"{DOS}|", "x|2000011147"),
    ),
    "GET /Slot": (
        "query",
        "Schedule.actor:HealthcareService",
        ("2000072489", "2000073917", "2000081825", "2000094120", f"{DOS}|2000072489"),
    ),
    "GET /Appointment": ("query", "patient:identifier", _PATIENTS),
    "GET /ServiceRequest": ("query", "patient:identifier", _PATIENTS),
    "GET /Appointment/{id}": ("path", "id", _APPOINTMENTS),
    "GET /ServiceRequest/{id}": ("path", "id", _SERVICE_REQUESTS),
}


@pytest.fixture(scope="module")
def spec_schema() -> Any:
    import schemathesis

    return schemathesis.openapi.from_path(SPEC_FILE)


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def run_bounded(strategy: st.SearchStrategy[Any], check: Callable[[Any], None]) -> None:
    """``check`` on FUZZ_CASES drawn examples: derandomized unless TKW_FUZZ_SEED picks a seed."""
    test = given(strategy)(check)
    test = settings(
        max_examples=FUZZ_CASES,
        derandomize=FUZZ_SEED is None,
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
    )(test)
    if FUZZ_SEED is not None:
        test = seed(int(FUZZ_SEED))(test)
    test()


def sent_of(response: requests.Response) -> Sent:
    prepared = response.request
    url = urlsplit(prepared.url or "")
    body = prepared.body
    return Sent(
        method=str(prepared.method),
        path=unquote(url.path),
        headers={k: str(v) for k, v in prepared.headers.items()},
        body=body.encode() if isinstance(body, str) else body,
        query=url.query,
    )


class Findings:
    """Problems across all cases of a run (the run goes on, so one report shows them all)."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.log_start = len(emulator.output())
        self.cases = 0
        self.statuses: dict[int, int] = {}
        self.problems: list[str] = []

    def record(self, response: requests.Response) -> None:
        self.cases += 1
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        sent = sent_of(response)
        found = answer_problems(sent, response.status_code, dict(response.headers), response.content)
        if found:
            self.problems.append("; ".join(found) + "\n" + sent.describe() + f"\nanswer: {response.content[:400]!r}")
            save_failure(sent, response)

    def assert_clean(self) -> None:
        failures = logged_failures(self.emulator.output()[self.log_start :])
        summary = f"{self.cases} cases, statuses {dict(sorted(self.statuses.items()))}"
        assert not self.problems and not failures, (
            f"{len(self.problems)} bad answers ({summary}); first ones:\n\n"
            + "\n\n".join(self.problems[:5])
            + "\n\nlogged by the emulator:\n"
            + "\n".join(failures[:40])
        )


def save_failure(sent: Sent, response: requests.Response) -> None:
    """With TKW_FUZZ_SAVE=<dir>, each bad case is kept whole there, to replay and to add to the corpus."""
    folder = os.environ.get("TKW_FUZZ_SAVE")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    record = {
        "method": sent.method,
        "path": sent.path,
        "query": sent.query,
        "headers": dict(sent.headers),
        "body_base64": base64.b64encode(sent.body or b"").decode(),
        "status": response.status_code,
        "answer": response.content.decode("utf-8", "replace"),
    }
    (Path(folder) / f"{uuid.uuid4()}.json").write_text(json.dumps(record, indent=2), encoding="utf-8")


def _header_negated(case: Any) -> bool:
    from schemathesis import GenerationMode
    from schemathesis.core.parameters import ParameterLocation

    meta = case.meta
    component = meta.components.get(ParameterLocation.HEADER) if meta is not None else None
    return component is not None and component.mode is GenerationMode.NEGATIVE


def request_headers(case: Any, generated: dict[str, Any], style: str, target: str, label: str) -> dict[str, str]:
    """The case's headers with valid BaRS ones filled in (and, style ``bars``, the identity replaced)."""
    headers = {str(k): str(v) for k, v in generated.items()}
    if _header_negated(case):
        return headers  # what the case removed or broke stays removed or broken
    valid = bars_headers(target_value=target, ods=FUZZ_ODS)
    if label == "GET /metadata" and style == "spec":
        valid.pop("NHSD-Target-Identifier")  # optional there: its absence is a scenario of its own
    present = {k.lower(): k for k in headers}
    for name, value in valid.items():
        if name.lower() not in present:
            headers[name] = value
        elif style == "bars" and name in IDENTITY:
            headers[present[name.lower()]] = value
    return headers


def test_the_fuzzed_operations_are_those_of_the_spec(spec_schema: Any) -> None:
    labels = {result.ok().label for result in spec_schema.get_all_operations()}
    assert labels == set(OPERATIONS)


@pytest.mark.parametrize("label", OPERATIONS)
def test_fuzzing_the_official_spec_finds_no_server_error_and_only_fhir_errors(
    label: str, spec_schema: Any, fuzz_emulator: Emulator, session: requests.Session
) -> None:
    from schemathesis import GenerationMode

    method, path = label.split(" ", 1)
    operation = spec_schema[path][method]
    location, name, values = HINTS.get(label, ("", "", ()))
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))
    strategy = st.tuples(
        cases,
        st.sampled_from(("bars", "bars", "spec")),
        st.sampled_from(TARGETS),
        st.none() | st.sampled_from(values) if values else st.none(),
    )
    findings = Findings(fuzz_emulator)

    def check(drawn: tuple[Any, str, str, str | None]) -> None:
        case, style, target, hint = drawn
        if hint is not None and location == "path":
            case.path_parameters = {**(case.path_parameters or {}), name: hint}
        kwargs = case.as_transport_kwargs(base_url=fuzz_emulator.base)
        if hint is not None and location == "query":
            kwargs["params"] = {**(kwargs.get("params") or {}), name: hint}
        kwargs["headers"] = request_headers(case, kwargs.get("headers") or {}, style, target, label)
        findings.record(session.request(**kwargs, timeout=30))

    run_bounded(strategy, check)
    findings.assert_clean()


def test_fuzzing_mutated_message_bundles_finds_no_server_error(
    fuzz_emulator: Emulator, session: requests.Session
) -> None:
    """Official and IG message Bundles with drawn mutations reach classification and the scenarios."""
    findings = Findings(fuzz_emulator)
    strategy = st.tuples(message_bundles(), st.sampled_from(TARGETS), st.booleans())

    def check(drawn: tuple[dict[str, Any], str, bool]) -> None:
        bundle, target, with_use_context = drawn
        headers = bars_headers(target_value=target, ods=FUZZ_ODS) | {"Content-Type": "application/fhir+json"}
        if with_use_context:
            headers["use-context"] = "a1t1|booking|booking-request|new"
        body = json.dumps(bundle, ensure_ascii=False).encode()
        findings.record(session.post(fuzz_emulator.base + "/$process-message", data=body, headers=headers, timeout=30))

    run_bounded(strategy, check)
    findings.assert_clean()
    assert findings.statuses.get(200), "some mutated Bundles must still be accepted (the mutations are too harsh)"


def test_the_oracle_catches_a_server_error_that_no_sentinel_explains() -> None:
    """The 5xx allow-list is exact: the sentinel ids pass, anything else is a finding."""
    json_ok = {"Content-Type": "application/fhir+json"}
    outcome = json.dumps(
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": "not-supported",
                    "details": {"coding": [{"system": "https://fhir.nhs.uk/Codesystem/http-error-codes", "code": "X"}]},
                    "diagnostics": "d",
                }
            ],
        }
    ).encode()
    sentinel = Sent("GET", f"{BASE}/Appointment/0D440C22-7F25-4C6C-905D-2213D197D02A", {})
    other = Sent("GET", f"{BASE}/Appointment/{uuid.uuid4()}", {})
    assert answer_problems(sentinel, 501, json_ok, outcome) == []
    assert answer_problems(other, 501, json_ok, outcome)
    assert answer_problems(sentinel, 503, json_ok, outcome), "the status must be the sentinel's own"
    assert answer_problems(other, 404, json_ok, b'{"message": "Not found"}'), "a non-FHIR error body"
