"""The receiver suite over real HTTP against stub receivers on loopback (no AWS involved)."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from unit.receiver.receiver_stubs import (
    CompliantReceiver,
    RunningStub,
    compliant_app,
    defective_app,
    failing_app,
    serve,
    yes_app,
)
from werkzeug.wrappers import Request, Response

from tkw.receiver.models import TestResult
from tkw.receiver.runner import RunConfig, RunOutcome, run_suite
from tkw.receiver.safety import AddressGuard, EndpointRefused, non_public_reason
from tkw.receiver.suite import load_suite
from tkw.receiver.tls import PkiFiles, generate_test_pki
from tkw.receiver.transport import HttpTransport, TlsOptions

TARGET = "2000072489"


def run(endpoint: str, *, allow_private: bool = True, tls: TlsOptions | None = None, **config: Any) -> RunOutcome:
    transport = HttpTransport(AddressGuard(allow_private=allow_private), timeout=config.pop("timeout", 10.0), tls=tls)
    return run_suite(RunConfig(endpoint=endpoint, target=TARGET, **config), transport)


def by_id(outcome: RunOutcome) -> dict[str, TestResult]:
    return {r.test_id: r for r in outcome.results}


def resource_in(bundle: str, kind: str) -> dict[str, Any]:
    """The first entry of type ``kind`` in a message Bundle's JSON text."""
    found: dict[str, Any] = next(
        e["resource"] for e in json.loads(bundle)["entry"] if e["resource"]["resourceType"] == kind
    )
    return found


def failed_checks(result: TestResult) -> dict[str, str]:
    return {c.id: c.message for c in result.checks if not c.passed and c.severity == "error"}


@pytest.fixture(scope="module")
def compliant() -> Iterator[RunningStub]:
    with serve(compliant_app()) as stub:
        yield stub


@pytest.fixture(scope="module")
def defective_outcome() -> RunOutcome:
    with serve(defective_app()) as stub:
        return run(stub.url(), application="1")


def test_a_receiver_that_follows_bars_passes_every_suite_of_every_application(compliant: RunningStub) -> None:
    progress: list[str] = []
    outcome = run_suite(
        RunConfig(endpoint=compliant.url(), target=TARGET),
        HttpTransport(AddressGuard(allow_private=True)),
        on_result=lambda r: progress.append(r.test_id),
    )
    failures = {r.test_id: r.message for r in outcome.results if r.status != "passed"}
    assert failures == {}
    assert outcome.status == "passed" and outcome.reason is None
    assert [r.test_id for r in outcome.results] == load_suite().ids
    # Progress is reported test by test, dependencies before the tests that need them.
    assert sorted(progress) == sorted(load_suite().ids)
    assert progress.index("a1-booking-new") < progress.index("a1-booking-get") < progress.index("a1-booking-cancel")
    booked = by_id(outcome)["a1-booking-get"]
    assert booked.response is not None and json.loads(booked.response.body)["resourceType"] == "Appointment"


def test_ids_assigned_on_create_are_the_ones_read_and_cancelled(compliant: RunningStub) -> None:
    outcome = run(compliant.url(), tests=["a1-booking-cancel"])
    results = by_id(outcome)
    assert list(results) == ["a1-slot-search", "a1-booking-new", "a1-booking-get", "a1-booking-cancel"]
    new = results["a1-booking-new"]
    assert new.response is not None
    created = resource_in(new.response.body, "Appointment")["id"]
    get = results["a1-booking-get"]
    assert get.request is not None and get.request.url.endswith(f"/Appointment/{created}")
    assert all(r.status == "passed" for r in results.values())


def test_the_stub_saw_transaction_headers_and_the_replayed_request_id(compliant: RunningStub) -> None:
    app = compliant.server.app
    before = len(app.requests)  # type: ignore[attr-defined]
    outcome = run(compliant.url(), tests=["a1-reused-x-request-id"])
    assert outcome.status == "passed"
    sent = app.requests[before:]  # type: ignore[attr-defined]
    request_ids = [headers.get("X-Request-Id") for _, _, headers in sent]
    assert len(sent) == 2 and request_ids[0] == request_ids[1]


def test_defects_fail_and_are_each_reported_precisely(defective_outcome: RunOutcome) -> None:
    results = by_id(defective_outcome)
    assert defective_outcome.status == "failed"
    assert not [r.test_id for r in results.values() if r.status == "passed"]

    # No header echo: named, with the value that should have come back.
    echo = failed_checks(results["a1-message-definition"])
    sent_id = results["a1-message-definition"].request.headers["X-Request-Id"]  # type: ignore[union-attr]
    assert echo == {
        "echo-x-request-id": f"expected X-Request-Id echoed as {sent_id}, found no such header",
        "echo-x-correlation-id": echo["echo-x-correlation-id"],
    }

    # Invalid FHIR: the element at fault.
    capability = failed_checks(results["a1-capability-statement"])
    assert "an invalid CapabilityStatement: CapabilityStatement.date" in capability["fhir-valid"]

    # Plain-JSON errors and wrong codes.
    unknown = failed_checks(results["a1-unknown-appointment-id"])
    assert unknown["status"] == "expected HTTP 404 REC_NOT_FOUND, found HTTP 400 (no BaRS error code)"
    assert unknown["fhir-valid"].endswith("""found JSON without resourceType '{"error": "unknown id"}'""")
    assert unknown["bars-code"].startswith("expected BaRS error code REC_NOT_FOUND")
    assert (
        failed_checks(results["a1-wrong-method"])["status"]
        == "expected HTTP 405 REC_METHOD_NOT_ALLOWED, found HTTP 404 (no BaRS error code)"
    )
    allow = next(c for c in results["a1-wrong-method"].checks if c.id == "allow-header")
    assert (allow.passed, allow.severity) == (False, "warning")

    # A receiver that does not re-check the transaction headers, or duplicates.
    assert (
        failed_checks(results["a1-missing-x-request-id"])["status"]
        == "expected HTTP 400 REC_BAD_REQUEST, found HTTP 200"
    )
    assert (
        failed_checks(results["a1-reused-x-request-id"])["status"] == "expected HTTP 409 REC_CONFLICT, found HTTP 200"
    )
    assert (
        failed_checks(results["a1-invalid-message-bundle"])["status"]
        == "expected HTTP 400 REC_BAD_REQUEST, found HTTP 200"
    )

    # Ids that change between create and read; the read still ran (the create answered 200).
    read = failed_checks(results["a1-booking-get"])
    assert (
        read["id-consistent"].startswith("expected id = ")
        and "(the id the receiver assigned in booking-new)" in read["id-consistent"]
    )


@pytest.fixture(scope="module")
def yes_outcome() -> RunOutcome:
    with serve(yes_app()) as stub:
        return run(stub.url())


def test_a_receiver_that_says_yes_to_everything_fails_every_error_test(yes_outcome: RunOutcome) -> None:
    errors = [r for r in yes_outcome.results if r.suite == "error"]
    assert {r.application for r in errors} == {"1", "3", "4", "5", "6"}
    assert [r.test_id for r in errors if r.status != "failed"] == []
    # Each failure says which refusal was expected, from the suite's own BaRS table.
    expected = {t.id: t.expect for t in load_suite().tests}
    for result in errors:
        wanted = expected[result.test_id]
        assert failed_checks(result)["status"] == f"expected HTTP {wanted.status} {wanted.bars_code}, found HTTP 200"
        assert failed_checks(result)["bars-code"].startswith(f"expected BaRS error code {wanted.bars_code} ")
    # It is the error suites that catch it: its happy paths pass.
    assert [r.test_id for r in yes_outcome.results if r.suite == "happy" and r.status != "passed"] == []


def test_a_receiver_that_answers_500_fails_every_happy_path() -> None:
    with serve(failing_app()) as stub:
        outcome = run(stub.url(), suites=["happy"])
    assert {r.application for r in outcome.results} == {"1", "3", "4", "5", "6"}
    assert all(r.suite == "happy" for r in outcome.results)
    assert [r.test_id for r in outcome.results if r.status == "passed"] == []
    ran = [r for r in outcome.results if r.status == "failed"]
    assert all(failed_checks(r)["status"] == "expected HTTP 200, found HTTP 500 (REC_SERVER_ERROR)" for r in ran), {
        r.test_id: r.message for r in ran
    }
    skipped = [r for r in outcome.results if r.status == "skipped"]
    assert skipped and all(r.message.startswith("skipped: depends on ") for r in skipped)


def test_one_application_can_be_run_alone_and_results_carry_application_and_suite(compliant: RunningStub) -> None:
    outcome = run(compliant.url(), application="6")
    assert outcome.status == "passed"
    assert {r.application for r in outcome.results} == {"6"}
    happy = [r.test_id for r in outcome.results if r.suite == "happy"]
    assert happy == [
        "a6-capability-statement",
        "a6-message-definition",
        "a6-referral-initial",
        "a6-referral-update-2",
        "a6-referral-update-3",
        "a6-referral-final-update",
        "a6-referral-get",
        "a6-referral-cancel",
    ]
    results = by_id(outcome)
    created = results["a6-referral-initial"]
    assert created.response is not None
    created_id = resource_in(created.response.body, "ServiceRequest")["id"]
    for step in ("a6-referral-update-2", "a6-referral-update-3", "a6-referral-final-update", "a6-referral-cancel"):
        sent = results[step].request
        assert sent is not None and sent.body is not None
        assert resource_in(sent.body, "ServiceRequest")["id"] == created_id, step
        assert sent.headers["use-context"] == "a6t1|referral|servicerequest-request|update"


def test_a_failing_dependency_skips_its_dependents_saying_why() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        headers = {k: request.headers[k] for k in ("X-Request-Id", "X-Correlation-Id") if k in request.headers}
        response = Response(b"", status=500, headers=headers)
        return response(environ, start_response)

    with serve(app) as stub:
        outcome = run(stub.url(), tests=["a1-booking-cancel"])
    results = by_id(outcome)
    assert results["a1-slot-search"].status == "failed"
    assert results["a1-booking-new"].status == "skipped"
    assert (
        results["a1-booking-new"].message
        == "skipped: depends on a1-slot-search (expected HTTP 200, found HTTP 500 (no BaRS error code))"
    )
    assert results["a1-booking-cancel"].message.startswith("skipped: depends on a1-booking-get (it was not run)")
    assert outcome.reason == "1 of 4 tests failed, 3 skipped"


def test_an_unreachable_receiver_ends_the_run_as_failed_with_the_reason() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        outcome = run(f"http://127.0.0.1:{port}/fhir")
    assert outcome.status == "failed"
    assert outcome.reason is not None and outcome.reason.startswith(
        f"receiver unreachable: cannot connect to 127.0.0.1:{port}"
    )
    statuses = {r.status for r in outcome.results}
    assert statuses == {"failed", "skipped"}
    skipped = [r for r in outcome.results if r.status == "skipped"]
    assert skipped and all(r.message == f"not run: {outcome.reason}" for r in skipped)


def test_a_receiver_that_does_not_answer_in_time_is_reported_as_the_proxy_does() -> None:
    release = threading.Event()

    def slow(environ: dict[str, Any], start_response: Any) -> Any:
        release.wait(5)
        return Response(b"{}", status=200)(environ, start_response)

    with serve(slow) as stub:
        try:
            outcome = run(stub.url(), tests=["a1-capability-statement"], timeout=0.3)
        finally:
            release.set()
    result = outcome.results[0]
    assert result.status == "failed"
    assert result.response is not None and result.response.synthesized
    assert result.response_status == 408
    assert json.loads(result.response.body)["issue"][0]["details"]["coding"][0]["code"] == "REC_TIMEOUT"
    assert failed_checks(result)["transport"] == "timeout: the receiver did not answer within 0.3 s"


# -- TLS-MA -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    return generate_test_pki(tmp_path_factory.mktemp("pki"), server_name="localhost")


@pytest.fixture(scope="module")
def mtls_receiver(pki: PkiFiles) -> Iterator[RunningStub]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.verify_mode = ssl.CERT_REQUIRED  # BaRS receivers only accept clients with certificates
    context.load_verify_locations(pki.ca)
    with serve(compliant_app(), ssl_context=context) as stub:
        yield stub


def _tls(pki: PkiFiles, *, client: bool = True, ca: bool = True) -> TlsOptions:
    return TlsOptions(
        client_cert=pki.client_cert.read_text() if client else None,
        client_key=pki.client_key.read_text() if client else None,
        ca_bundle=pki.ca.read_text() if ca else None,
    )


def test_tls_ma_passes_with_the_right_client_certificate(pki: PkiFiles, mtls_receiver: RunningStub) -> None:
    outcome = run(mtls_receiver.url("localhost"), tls=_tls(pki))
    assert outcome.status == "passed", [r.message for r in outcome.results if r.status != "passed"]


def test_without_a_client_certificate_it_fails_as_the_proxy_reports_it(
    pki: PkiFiles, mtls_receiver: RunningStub
) -> None:
    outcome = run(mtls_receiver.url("localhost"), tls=_tls(pki, client=False))
    assert outcome.status == "failed"
    assert outcome.reason is not None and outcome.reason.startswith("TLS-MA failure: ")
    first = next(r for r in outcome.results if r.status == "failed")
    assert first.response_status == 403 and first.response is not None and first.response.synthesized
    issue = json.loads(first.response.body)["issue"][0]
    assert issue["details"]["coding"][0]["code"] == "REC_FORBIDDEN"
    assert issue["diagnostics"].startswith("TLS-MA failure: ")
    assert failed_checks(first)["status"].endswith(
        "found HTTP 403 REC_FORBIDDEN (TLS-MA failure, as the BaRS proxy reports it)"
    )
    assert "no client certificate was presented" in failed_checks(first)["transport"]


def test_a_server_certificate_from_another_ca_is_refused_with_the_reason(
    pki: PkiFiles, mtls_receiver: RunningStub
) -> None:
    outcome = run(mtls_receiver.url("localhost"), tls=_tls(pki, ca=False), tests=["a1-capability-statement"])
    result = outcome.results[0]
    assert result.response_status == 403
    assert failed_checks(result)["transport"].startswith(
        "TLS-MA failure: the receiver's certificate was not accepted: "
    )


def test_generated_certificates_are_files_a_team_can_use(pki: PkiFiles) -> None:
    for path in (pki.ca, pki.server_cert, pki.server_key, pki.client_cert, pki.client_key):
        assert path.read_text().startswith("-----BEGIN ")
    assert pki.client_key.stat().st_mode & 0o077 == 0  # private keys are not readable by others


# -- SSRF -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "non-public"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("fd00::1", "private"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - refused, not bound
    ],
)
def test_non_public_addresses_are_named(address: str, kind: str) -> None:
    import ipaddress

    reason = non_public_reason(ipaddress.ip_address(address))
    assert reason is not None and kind in reason
    assert non_public_reason(ipaddress.ip_address("8.8.8.8")) is None


def test_a_host_name_resolving_to_loopback_is_refused_unless_allowed() -> None:
    with pytest.raises(EndpointRefused, match=r"localhost resolves to .*a loopback address"):
        AddressGuard(allow_private=False).resolve("localhost", 80)
    assert AddressGuard(allow_private=True).resolve("localhost", 80)


def test_a_deployed_run_never_reaches_a_private_receiver(compliant: RunningStub) -> None:
    app = compliant.server.app
    before = len(app.requests)  # type: ignore[attr-defined]
    outcome = run(compliant.url(), allow_private=False)
    assert outcome.status == "failed"
    assert outcome.reason is not None and outcome.reason.startswith("endpoint refused: 127.0.0.1 resolves to 127.0.0.1")
    assert len(app.requests) == before  # type: ignore[attr-defined]


def test_timing_is_recorded_per_test(compliant: RunningStub) -> None:
    started = time.perf_counter()
    outcome = run(compliant.url(), tests=["a1-capability-statement"])
    result = outcome.results[0]
    assert result.duration_ms is not None and 0 < result.duration_ms <= (time.perf_counter() - started) * 1000
    assert result.started_at is not None


def test_reports_render_from_a_real_run(defective_outcome: RunOutcome, tmp_path: Path) -> None:
    import io
    import zipfile
    from xml.etree import ElementTree as ET

    from tkw.receiver.models import RunRecord, RunReport, RunSummary
    from tkw.receiver.run_reports import render_all

    record = RunRecord(
        run_id="r-1",
        status="failed",
        endpoint="http://127.0.0.1/x",
        target_identifier=TARGET,
        tests=[r.test_id for r in defective_outcome.results],
        created_at="2026-11-24T14:00:00.000+00:00",
        reason=defective_outcome.reason,
        summary=RunSummary.of(defective_outcome.results),
    )
    files = render_all(RunReport(run=record, suite="BaRS receiver suite", results=defective_outcome.results))
    junit = ET.fromstring(files["junit.xml"])  # noqa: S314 - our own output
    suites = junit.findall("testsuite")
    assert [s.get("name") for s in suites] == ["BaRS receiver suite: Application 1: 111/CAS to ED/UTC/SDEC"]
    suite = suites[0]
    failed = sum(1 for r in defective_outcome.results if r.status == "failed")
    assert suite.get("failures") == str(failed) and suite.get("tests") == str(len(defective_outcome.results))
    case = next(c for c in suite.iter("testcase") if c.get("name", "").startswith("a1-unknown-appointment-id"))
    assert case.get("classname") == "bars.receiver.app1.error.ids"
    failure = case.find("failure")
    assert failure is not None and "[bars-code] expected BaRS error code REC_NOT_FOUND" in (failure.text or "")
    html = files["report.html"].decode()
    assert (
        "a1-unknown-appointment-id" in html
        and "Error suite" in html
        and "Happy path" in html
        and "&lt;" not in html.split("<body>")[0]
    )
    names = zipfile.ZipFile(io.BytesIO(files["receiver-run.zip"])).namelist()
    assert {"report.html", "results.json", "junit.xml"} <= set(names)
    assert sum(n.startswith("exchanges/") for n in names) == len(defective_outcome.results)
    assert json.loads(files["results.json"])["run"]["run_id"] == "r-1"


class OrderingReceiver(CompliantReceiver):
    """A compliant receiver except that it reads its ServiceRequests back as orders: valid FHIR R4, but
    BaRS's ServiceRequest profiles fix ``intent`` to ``plan``."""

    def answer(self, request: Request) -> Response:
        response = super().answer(request)
        if request.method == "GET" and "/ServiceRequest/" in request.path and response.status_code == 200:
            body = json.loads(response.get_data())
            body["intent"] = "order"
            response.set_data(json.dumps(body))
        return response


def test_a_receiver_answer_that_breaks_a_profile_fails_naming_the_element_and_profile() -> None:
    with serve(OrderingReceiver()) as stub:
        outcome = run(stub.url(), application="6")
    results = by_id(outcome)
    read = results["a6-referral-get"]
    assert (outcome.status, read.status) == ("failed", "failed")
    checks = {c.id: c for c in read.checks}
    assert checks["status"].passed and checks["fhir-valid"].passed  # base R4 cannot see it
    profile = [c for c in read.checks if c.id.startswith("profile") and not c.passed]
    assert [(c.id, c.severity) for c in profile] == [("profile.fixed", "error")]
    assert profile[0].message.startswith("at ServiceRequest.intent: ")
    assert "expected plan, found order" in profile[0].message
    assert "profile https://fhir.nhs.uk/StructureDefinition/BARSServiceRequest-request-referral" in profile[0].message
    # Every other answer conforms, and says so with the package versions it was judged against.
    others = [r for r in outcome.results if r.test_id != "a6-referral-get"]
    assert [r.test_id for r in others if r.status != "passed"] == []
    created = results["a6-referral-initial"]
    assert next(c for c in created.checks if c.id == "profile").passed
