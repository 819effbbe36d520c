"""Receiver runs end to end: the local runner over HTTP, its SQS worker, reports through presigned links."""

from __future__ import annotations

import io
import json
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from emulator_support import Emulator, start_emulator, stop_emulator
from unit.receiver.receiver_stubs import RunningStub, compliant_app, defective_app, serve

from tkw import cli
from tkw.receiver.suite import load_suite

FINISHED = {"passed", "failed", "error"}


@pytest.fixture(scope="module")
def local() -> Iterator[Emulator]:
    running = start_emulator({"ALLOW_PRIVATE_RECEIVERS": "true"})
    yield running
    stop_emulator(running)


@pytest.fixture(scope="module")
def compliant() -> Iterator[RunningStub]:
    with serve(compliant_app()) as stub:
        yield stub


def start(emulator: Emulator, **body: Any) -> str:
    answer = emulator.request(
        "POST", "/tkw/receiver-runs", {"Content-Type": "application/json"}, json.dumps(body).encode()
    )
    assert answer.status == 202, answer.raw
    assert answer.header("Location") == f"/tkw/receiver-runs/{answer.json['run_id']}"
    return str(answer.json["run_id"])


def wait_until_finished(emulator: Emulator, run_id: str) -> dict[str, Any]:
    seen: list[int] = []
    for _ in range(1200):
        view = emulator.request("GET", f"/tkw/receiver-runs/{run_id}").json
        seen.append(sum(1 for r in view["results"] if r["status"] != "pending"))
        if view["status"] in FINISHED:
            assert seen == sorted(seen), "completed results never go back to pending"
            return dict(view)
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish: {view}")


def download(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return str(response.headers.get("Content-Type")), response.read()


def test_a_run_through_the_local_runner_passes_and_its_zip_downloads(local: Emulator, compliant: RunningStub) -> None:
    run_id = start(local, endpoint=compliant.url(), target_identifier="2000072489")
    view = wait_until_finished(local, run_id)
    assert view["status"] == "passed", [r["message"] for r in view["results"] if r["status"] != "passed"]
    assert [r["test_id"] for r in view["results"]] == load_suite().ids

    content_type, data = download(view["links"]["zip"])
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = archive.namelist()
    assert {"report.html", "results.json", "junit.xml"} <= set(names)
    assert len([n for n in names if n.startswith("exchanges/")]) == len(load_suite().ids)
    results = json.loads(archive.read("results.json"))
    assert results["run"]["run_id"] == run_id and results["run"]["status"] == "passed"
    junit = ET.fromstring(archive.read("junit.xml"))  # noqa: S314 - our own output
    assert junit.get("failures") == "0"
    assert len(junit.findall("testsuite")) == 5  # one per BaRS Application: 1, 3, 4, 5, 6

    content_type, page = download(view["links"]["html"])
    assert content_type.startswith("text/html") and run_id.encode() in page

    runs = local.request("GET", "/tkw/receiver-runs").json["runs"]
    assert runs[0]["run_id"] == run_id


def test_the_cli_runs_through_the_emulator_and_fails_a_defective_receiver(local: Emulator, tmp_path: Path) -> None:
    out = io.StringIO()
    junit = tmp_path / "junit.xml"
    with serve(defective_app()) as stub:
        args = cli.build_parser().parse_args(
            [
                "receiver-run",
                "--via",
                local.root,
                "--endpoint",
                stub.url(),
                "--target",
                "2000072489",
                "--application",
                "1",
                "--tests",
                "a1-capability-statement",
                "a1-unknown-appointment-id",
                "--junit",
                str(junit),
            ]
        )
        code = cli.receiver_run(args, out)
    text = out.getvalue()
    assert code == 1, text
    assert "FAIL a1-capability-statement" in text and "FAIL a1-unknown-appointment-id" in text
    assert "2 tests: 0 passed, 2 failed, 0 skipped" in text
    assert "zip: http" in text
    cases = ET.parse(junit).getroot().iter("testcase")  # noqa: S314 - our own output
    assert sorted(c.get("name", "").split(":")[0] for c in cases) == [
        "a1-capability-statement",
        "a1-unknown-appointment-id",
    ]


def test_a_run_can_target_the_emulators_own_bars_api(local: Emulator) -> None:
    run_id = start(local, endpoint=local.base, target_identifier="2000072489")
    view = wait_until_finished(local, run_id)
    assert view["status"] in {"passed", "failed"}, view.get("reason")
    assert all(r["status"] in {"passed", "failed", "skipped"} for r in view["results"])
    capability = next(r for r in view["results"] if r["test_id"] == "a1-capability-statement")
    assert capability["response_status"] == 200 and capability["checks"]


def test_the_local_runner_allows_loopback_receivers_by_default(emulator: Emulator, compliant: RunningStub) -> None:
    run_id = start(emulator, endpoint=compliant.url(), target_identifier="1", tests=["a1-capability-statement"])
    assert wait_until_finished(emulator, run_id)["status"] == "passed"
