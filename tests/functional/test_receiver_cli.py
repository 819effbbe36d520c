"""``tkw receiver-run`` / ``tkw certs`` / ``tkw receiver-suite`` as a supplier's CI would use them."""

from __future__ import annotations

import io
import ssl
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from bars_support import ROOT
from unit.receiver.receiver_stubs import RunningStub, compliant_app, defective_app, serve

from tkw import cli
from tkw.receiver.suite import load_suite


def tkw(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    parsed = cli.build_parser().parse_args(list(args))
    code = int(parsed.run(parsed, out))
    return code, out.getvalue()


@pytest.fixture(scope="module")
def compliant() -> Iterator[RunningStub]:
    with serve(compliant_app()) as stub:
        yield stub


def test_a_passing_receiver_exits_0_with_progress_summary_and_junit(compliant: RunningStub, tmp_path: Path) -> None:
    junit = tmp_path / "reports" / "junit.xml"
    code, out = tkw("receiver-run", "--endpoint", compliant.url(), "--target", "2000072489", "--junit", str(junit))
    assert code == 0, out
    for test_id in load_suite().ids:
        assert f"PASS {test_id}" in out
    assert f"{len(load_suite().ids)} tests: {len(load_suite().ids)} passed, 0 failed, 0 skipped" in out
    assert "PASSED" in out
    # One JUnit testsuite per BaRS Application, holding its happy path and its error suite.
    suites = ET.parse(junit).getroot().findall("testsuite")  # noqa: S314 - our own output
    assert [s.find("properties/property[@name='application']").get("value") for s in suites] == [
        "1",
        "3",
        "4",
        "5",
        "6",
    ]  # type: ignore[union-attr]
    assert sum(int(s.get("tests") or 0) for s in suites) == len(load_suite().ids)
    assert {s.get("failures") for s in suites} == {"0"}


def test_one_application_s_suites_are_chosen_with_application_and_suites(compliant: RunningStub) -> None:
    code, out = tkw(
        "receiver-run",
        "--endpoint",
        compliant.url(),
        "--target",
        "2000072489",
        "--application",
        "5",
        "--suites",
        "error",
    )
    assert code == 0, out
    errors = [t.id for t in load_suite().tests if t.application == "5" and t.suite == "error"]
    assert all(f"PASS {test_id}" in out for test_id in errors)
    assert "PASS a5-referral-new" in out  # the error tests that resend it need it first
    assert "PASS a5-referral-cancel" not in out and "a1-" not in out
    assert f"Application 5 error    {len(errors)} of {len(errors)} passed" in out
    assert "Application 5 happy    1 of 1 passed" in out


def test_a_failing_receiver_exits_1_and_says_why(tmp_path: Path) -> None:
    with serve(defective_app()) as stub:
        code, out = tkw(
            "receiver-run",
            "--endpoint",
            stub.url(),
            "--target",
            "2000072489",
            "--tests",
            "a1-unknown-appointment-id,a1-wrong-method",
            "--junit",
            str(tmp_path / "j.xml"),
            "--html",
            str(tmp_path / "r.html"),
        )
    assert code == 1
    assert "FAIL a1-unknown-appointment-id" in out
    assert "[status] expected HTTP 404 REC_NOT_FOUND, found HTTP 400 (no BaRS error code)" in out
    assert "2 tests: 0 passed, 2 failed, 0 skipped" in out
    failures = ET.parse(tmp_path / "j.xml").getroot().iter("failure")  # noqa: S314 - our own output
    assert len(list(failures)) == 2
    assert "a1-unknown-appointment-id" in (tmp_path / "r.html").read_text()


def test_certs_then_a_tls_ma_run(tmp_path: Path) -> None:
    code, out = tkw("certs", "--out", str(tmp_path / "pki"), "--server-name", "localhost")
    assert code == 0 and "--client-cert" in out
    pki = tmp_path / "pki"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / "server.pem", pki / "server-key.pem")
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(pki / "ca.pem")
    with serve(compliant_app(), ssl_context=context) as stub:
        url = stub.url("localhost")
        tls = ["--client-cert", str(pki / "client.pem"), "--client-key", str(pki / "client-key.pem")]
        ca = ["--ca-bundle", str(pki / "ca.pem")]
        code, out = tkw(
            "receiver-run", "--endpoint", url, "--target", "1", "--tests", "a1-capability-statement", *tls, *ca
        )
        assert code == 0, out
        code, out = tkw("receiver-run", "--endpoint", url, "--target", "1", "--tests", "a1-capability-statement", *ca)
        assert code == 1
        assert "found HTTP 403 REC_FORBIDDEN (TLS-MA failure, as the BaRS proxy reports it)" in out
        assert "FAILED (TLS-MA failure: " in out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = tkw("receiver-run", "--endpoint", "ftp://x", "--target", "1")
    assert code == 2
    assert "endpoint: must be an http:// or https:// URL" in capsys.readouterr().err
    code, _ = tkw("receiver-run", "--endpoint", "http://127.0.0.1:9", "--target", "1", "--tests", "nope")
    assert code == 2
    assert "unknown tests: nope" in capsys.readouterr().err
    code, _ = tkw("receiver-run", "--endpoint", "http://127.0.0.1:9", "--target", "1", "--suites", "sad")
    assert code == 2
    assert "suites.0: Input should be 'happy' or 'error'" in capsys.readouterr().err
    code, _ = tkw(
        "receiver-run",
        "--endpoint",
        "http://127.0.0.1:9",
        "--target",
        "1",
        "--application",
        "5",
        "--tests",
        "a1-booking-new",
    )
    assert code == 2
    assert "tests a1-booking-new are not in Application 5" in capsys.readouterr().err


def test_receiver_suite_lists_the_tests() -> None:
    code, out = tkw("receiver-suite")
    assert code == 0
    assert all(test_id in out for test_id in load_suite().ids)
    assert "Application 6: CAD to CAD out of area (UCC a6t1)" in out
    code, out = tkw("receiver-suite", "--application", "4", "--suite", "error")
    assert "a4-same-bundle-id" in out and "409 REC_CONFLICT" in out
    assert "a4-validation-new " not in out and "a5-" not in out


def test_auth_commands_are_delegated(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["auth", "--help"])
    assert exited.value.code == 0
    assert "keygen" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["token", "--help"])
    assert "--api-key" in capsys.readouterr().out


def test_tkw_is_a_console_script_and_runs_as_a_module() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["tkw"] == "tkw.cli:main"
    done = subprocess.run(
        [sys.executable, "-m", "tkw.cli", "receiver-suite", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT / "layers" / "tkw"), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert '"a1-booking-new"' in done.stdout and '"application": "1"' in done.stdout
