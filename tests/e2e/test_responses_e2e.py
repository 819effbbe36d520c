"""Async responses end to end: the local runner sends responses to a sender's own endpoint over HTTP.

A stub sender endpoint (a real HTTP server in the test) records what arrives at its
``$process-message``. Expected shapes come from the live guide's "Response" rows and the IG
examples (VALRESP01A/01B/02/04, REFRESP01), not from the code under test.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from bars_support import DOS, ROOT, bars_headers, organisation
from emulator_support import Emulator, HttpResult, free_port, start_emulator, stop_emulator
from sender_stub import SenderStub
from unit.receiver.receiver_stubs import RunningStub, serve

from tkw.receiver.tls import PkiFiles, generate_test_pki

LIVE_EXAMPLES = ROOT.parent / "shared" / "bars-spec" / "ig-examples-live"
SENDER_SERVICE = "2222222222"  # VALREQ03's MessageHeader.source.endpoint: the 999 service sending
EMULATED_SERVICE = "111111111"  # its destination: the CAS the emulator plays
FULL, INTERIM, DNA, DNA_401 = "9658499147", "9658499155", "9658499163", "9658499171"


@pytest.fixture(scope="module")
def local() -> Iterator[Emulator]:
    running = start_emulator(
        {
            "ALLOW_PRIVATE_RECEIVERS": "true",
            "RESPONSE_DELAY_SECONDS": "1",
            "RESPONSE_FOLLOW_UP_SECONDS": "1",
            "RESPONSE_TIMEOUT_SECONDS": "1",
            "RESPONSE_ATTEMPTS": "2",
            "RESPONSE_BACKOFF_SECONDS": "0.1",
        }
    )
    yield running
    stop_emulator(running)


@pytest.fixture(scope="module")
def stub() -> Iterator[tuple[SenderStub, RunningStub]]:
    app = SenderStub()
    with serve(app) as running:
        yield app, running


def root_of(running: RunningStub, mode: str, host: str = "127.0.0.1") -> str:
    return f"{running.scheme}://{host}:{running.port}/{mode}/FHIR/R4"


def admin(ods: str) -> dict[str, str]:
    return {
        "NHSD-End-User-Organisation": organisation(ods),
        "X-Request-Id": str(uuid.uuid4()),
        "X-Correlation-Id": str(uuid.uuid4()),
        "Content-Type": "application/json",
    }


def register(emulator: Emulator, ods: str, service: str, url: str, **pems: str) -> HttpResult:
    body = json.dumps({"url": url, **pems}).encode()
    return emulator.request("PUT", f"/tkw/endpoints/{service}", admin(ods), body)


def validation_request(nhs_number: str) -> dict[str, Any]:
    bundle = json.loads(next(LIVE_EXAMPLES.glob("VALREQ03_*.json")).read_text(encoding="utf-8"))
    bundle = copy.deepcopy(bundle)
    bundle["id"] = str(uuid.uuid4())
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] == "Patient":
            entry["resource"]["identifier"][0]["value"] = nhs_number  # as the guide says: replace 3478526985
    return bundle


def send(emulator: Emulator, ods: str, bundle: dict[str, Any]) -> tuple[HttpResult, dict[str, str]]:
    headers = bars_headers(
        EMULATED_SERVICE,
        ods,
        **{"Content-Type": "application/fhir+json", "use-context": "a4t1|validation|servicerequest-request|new"},
    )
    return emulator.bars("POST", "/$process-message", headers, json.dumps(bundle).encode()), headers


def wait_for(what: Callable[[], Any], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"nothing after {seconds} s")


def report(emulator: Emulator, ods: str, report_id: str) -> dict[str, Any]:
    answer = emulator.request("GET", f"/tkw/reports/{report_id}", admin(ods))
    assert answer.status == 200, answer.raw[:300]
    return dict(answer.json)


def settled_responses(emulator: Emulator, ods: str, report_id: str, count: int) -> list[dict[str, Any]]:
    """The triggering report's responses once none is still queued."""

    def done() -> list[dict[str, Any]] | None:
        links = report(emulator, ods, report_id)["responses"]
        return links if len(links) == count and all(r["status"] != "queued" for r in links) else None

    return list(wait_for(done))


def decoded(value: str | None) -> Any:
    assert value is not None
    return json.loads(base64.b64decode(value))


def test_interim_then_full_arrive_in_order_linked_to_the_request(
    local: Emulator, stub: tuple[SenderStub, RunningStub]
) -> None:
    app, running = stub
    assert register(local, "R1001", SENDER_SERVICE, root_of(running, "interim")).status == 201
    bundle = validation_request(INTERIM)
    answer, sent = send(local, "R1001", bundle)
    assert answer.status == 200, answer.raw[:300]  # the synchronous answer is unchanged
    trigger = answer.header("TKW-Report-Id")
    assert trigger

    interim, full = wait_for(lambda: app.of("/interim/") if len(app.of("/interim/")) >= 2 else None)
    assert [interim.path, full.path] == ["/interim/FHIR/R4/$process-message"] * 2
    for message in (interim, full):
        header = message.message_header
        assert header["eventCoding"]["code"] == "servicerequest-response"
        assert header["response"]["identifier"] == bundle["id"]  # names the request Bundle
        assert header["destination"][0]["endpoint"] == f"{DOS}|{SENDER_SERVICE}"
        assert header["source"]["endpoint"] == f"{DOS}|{EMULATED_SERVICE}"
        assert message.entries("Patient")[0]["identifier"][0]["value"] == INTERIM
        assert message.header("X-Correlation-Id") == sent["X-Correlation-Id"]
        assert message.header("X-Request-Id") not in (None, sent["X-Request-Id"])
        assert decoded(message.header("NHSD-Target-Identifier")) == {"system": DOS, "value": SENDER_SERVICE}
        assert decoded(message.header("NHSD-Requesting-Software"))["resourceType"] == "Device"
        assert "version=" in (message.header("Accept") or "")
        event, reason = header["eventCoding"]["code"], header["reason"]["coding"][0]["code"]
        assert message.header("use-context") == f"a4t1|validation|{event}|{reason}"
    assert interim.header("X-Request-Id") != full.header("X-Request-Id")
    # VALRESP01A: new, the CAS's Encounter in progress; VALRESP01B: update, finished, ServiceRequest completed
    assert interim.message_header["reason"]["coding"][0]["code"] == "new"
    assert full.message_header["reason"]["coding"][0]["code"] == "update"
    ours = {e["id"]: e["status"] for e in interim.entries("Encounter") if e["status"] != "triaged"}
    theirs = {e["id"]: e["status"] for e in full.entries("Encounter") if e["status"] != "triaged"}
    assert list(ours.values()) == ["in-progress"] and theirs == dict.fromkeys(ours, "finished")
    assert full.entries("ServiceRequest")[0]["status"] == "completed"

    links = settled_responses(local, "R1001", trigger, 2)
    assert [(r["kind"], r["status"], r["http_status"]) for r in links] == [
        ("interim", "sent", 200),
        ("full-update", "sent", 200),
    ]
    outbound = report(local, "R1001", links[0]["report_id"])
    assert outbound["direction"] == "outbound" and outbound["trigger_report_id"] == trigger
    assert outbound["verdict"] == "pass", [f["message"] for f in outbound["findings"] if not f["passed"]]
    listed = local.request("GET", "/tkw/reports?limit=20", admin("R1001")).json["reports"]
    directions = {r["id"]: r["direction"] for r in listed}
    assert directions[links[0]["report_id"]] == directions[links[1]["report_id"]] == "outbound"
    assert directions[trigger] == "inbound"
    outbound_only = local.request("GET", "/tkw/reports?direction=outbound", admin("R1001")).json["reports"]
    assert sorted(r["id"] for r in outbound_only) == sorted(r["report_id"] for r in links)
    inbound_only = local.request("GET", "/tkw/reports?direction=inbound", admin("R1001")).json["reports"]
    assert [r["id"] for r in inbound_only] == [trigger]
    wrong = local.request("GET", "/tkw/reports?direction=sideways", admin("R1001"))
    assert wrong.status == 400 and wrong.json["issue"][0]["expression"] == ["direction"]


def test_full_validation_response_has_the_valresp02_shape(
    local: Emulator, stub: tuple[SenderStub, RunningStub]
) -> None:
    app, running = stub
    assert register(local, "R1002", "default", root_of(running, "full")).status == 201
    bundle = validation_request(FULL)
    answer, _ = send(local, "R1002", bundle)
    assert answer.status == 200
    (full,) = wait_for(lambda: app.of("/full/"))
    assert full.message_header["reason"]["coding"][0]["code"] == "new"
    assert full.message_header["definition"].endswith("servicerequest-response-validation-full")
    assert {e["status"] for e in full.entries("Encounter")} == {"triaged", "finished"}
    assert full.entries("ServiceRequest")[0]["status"] == "completed"
    time.sleep(2)  # one trigger, one response: nothing else may follow
    assert len(app.of("/full/")) == 1


def test_safeguarding_dna_and_the_401_row(local: Emulator, stub: tuple[SenderStub, RunningStub]) -> None:
    app, running = stub
    assert register(local, "R1003", "default", root_of(running, "dna")).status == 201
    answer, _ = send(local, "R1003", validation_request(DNA))
    assert answer.status == 200
    (dna,) = wait_for(lambda: app.of("/dna/"))
    assert dna.entries("ServiceRequest")[0]["status"] == "revoked"  # REFRESP01
    assert [a["status"] for a in dna.entries("Appointment")] == ["noshow"]

    refused, _ = send(local, "R1003", validation_request(DNA_401))
    assert refused.status == 401
    assert refused.json["issue"][0]["details"]["coding"][0]["code"] == "REC_UNAUTHORIZED"
    second = wait_for(lambda: app.of("/dna/")[1:])
    assert second[0].entries("ServiceRequest")[0]["status"] == "revoked"
    assert second[0].entries("Patient")[0]["identifier"][0]["value"] == DNA_401


def test_no_endpoint_is_said_plainly_and_the_message_is_still_downloadable(local: Emulator) -> None:
    answer, _ = send(local, "R1004", validation_request(FULL))
    trigger = answer.header("TKW-Report-Id")
    assert answer.status == 200 and trigger
    (link,) = settled_responses(local, "R1004", trigger, 1)
    assert link["status"] == "not-sent"
    assert "No endpoint is registered for service 2222222222 or 'default'" in link["summary"]
    page = local.request("GET", f"/tkw/reports/{trigger}?format=html", admin("R1004")).raw.decode()
    assert "No endpoint is registered" in page
    download = local.request("GET", f"/tkw/reports/{link['report_id']}/download?format=json&link=json", admin("R1004"))
    with urllib.request.urlopen(download.json["url"], timeout=30) as stored:
        record = json.loads(stored.read())
    message = json.loads(record["exchange"]["request_body"])
    assert message["entry"][0]["resource"]["eventCoding"]["code"] == "servicerequest-response"
    assert record["verdict"] == "fail"


def test_an_endpoint_answering_500_fails_its_report(local: Emulator, stub: tuple[SenderStub, RunningStub]) -> None:
    _, running = stub
    assert register(local, "R1005", "default", root_of(running, "error")).status == 201
    answer, _ = send(local, "R1005", validation_request(FULL))
    (link,) = settled_responses(local, "R1005", str(answer.header("TKW-Report-Id")), 1)
    assert (link["status"], link["http_status"]) == ("sent", 500)
    outbound = report(local, "R1005", link["report_id"])
    failed = {f["id"]: f["message"] for f in outbound["findings"] if not f["passed"]}
    assert failed["outbound.answer.status"] == "expected HTTP 200, found HTTP 500 (REC_SERVER_ERROR)"
    passed = {f["id"] for f in outbound["findings"] if f["passed"]}
    # the error itself is well formed: an OperationOutcome with the BaRS code of a 500
    assert {"outbound.answer.outcome-shape", "outbound.answer.bars-code"} <= passed
    assert outbound["verdict"] == "fail"


def test_a_slow_endpoint_times_out_and_is_retried_with_the_same_request_id(
    local: Emulator, stub: tuple[SenderStub, RunningStub]
) -> None:
    app, running = stub
    assert register(local, "R1006", "default", root_of(running, "slow")).status == 201
    answer, _ = send(local, "R1006", validation_request(FULL))
    (link,) = settled_responses(local, "R1006", str(answer.header("TKW-Report-Id")), 1)
    assert link["status"] == "failed"
    assert "after 2 attempts" in link["summary"] and "did not answer within 1 s" in link["summary"]
    attempts = app.of("/slow/")
    assert len(attempts) == 2 and attempts[0].header("X-Request-Id") == attempts[1].header("X-Request-Id")


def test_endpoints_are_per_organisation(local: Emulator, stub: tuple[SenderStub, RunningStub]) -> None:
    app, running = stub
    assert register(local, "R1007", "default", root_of(running, "isolated")).status == 201
    mine = local.request("GET", "/tkw/endpoints", admin("R1007")).json
    assert [e["service_id"] for e in mine["endpoints"]] == ["default"]
    theirs = local.request("GET", "/tkw/endpoints", admin("R1008"))
    assert theirs.status == 200 and theirs.json["endpoints"] == []
    assert local.request("DELETE", "/tkw/endpoints/default", admin("R1008")).status == 404
    answer, _ = send(local, "R1008", validation_request(FULL))
    (link,) = settled_responses(local, "R1008", str(answer.header("TKW-Report-Id")), 1)
    assert link["status"] == "not-sent" and app.of("/isolated/") == []
    assert local.request("DELETE", "/tkw/endpoints/default", admin("R1007")).status == 204
    assert local.request("GET", "/tkw/endpoints", admin("R1007")).json["endpoints"] == []


def test_endpoint_api_refuses_bad_input_with_operation_outcomes(local: Emulator) -> None:
    cases = [
        (admin("R1009"), b"not json", "invalid"),
        (admin("R1009"), json.dumps({"url": "ftp://example.org/x"}).encode(), "value"),
        (admin("R1009"), json.dumps({"url": "http://127.0.0.1:1/x", "client_cert": "x"}).encode(), "invalid"),
        ({"Content-Type": "application/json"}, json.dumps({"url": "http://127.0.0.1:1/x"}).encode(), "required"),
    ]
    for headers, body, code in cases:
        answer = local.request("PUT", "/tkw/endpoints/default", headers, body)
        assert answer.status == 400, answer.raw[:200]
        issue = answer.json["issue"][0]
        assert issue["code"] == code and issue["details"]["coding"][0]["code"] == "REC_BAD_REQUEST"


def test_on_demand_responses(local: Emulator, stub: tuple[SenderStub, RunningStub]) -> None:
    app, running = stub
    assert register(local, "R1010", "default", root_of(running, "demand")).status == 201
    answer, _ = send(local, "R1010", validation_request("9000000009"))  # no sentinel: nothing is sent
    trigger = str(answer.header("TKW-Report-Id"))
    order = json.dumps({"report_id": trigger, "kind": "reject"}).encode()
    queued = local.request("POST", "/tkw/responses", admin("R1010"), order)
    assert queued.status == 202, queued.raw[:300]
    (reject,) = wait_for(lambda: app.of("/demand/"))
    assert {e["status"] for e in reject.entries("Encounter")} == {"triaged", "cancelled"}  # VALRESP04
    again = local.request("POST", "/tkw/responses", admin("R1010"), order)  # asked twice: sent twice
    assert again.status == 202
    wait_for(lambda: app.of("/demand/")[1:])
    links = settled_responses(local, "R1010", trigger, 2)
    assert [r["kind"] for r in links] == ["reject", "reject"]
    outbound = report(local, "R1010", queued.json["report_id"])
    assert outbound["trigger_report_id"] == trigger

    assert local.request("POST", "/tkw/responses", admin("R1011"), order).status == 404  # not theirs
    bad = local.request(
        "POST", "/tkw/responses", admin("R1010"), json.dumps({"report_id": trigger, "kind": "x"}).encode()
    )
    assert bad.status == 400 and bad.json["issue"][0]["details"]["coding"][0]["code"] == "REC_BAD_REQUEST"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    return generate_test_pki(tmp_path_factory.mktemp("pki"), server_name="localhost")


@contextmanager
def mtls_stub(pki: PkiFiles) -> Iterator[tuple[SenderStub, RunningStub]]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(pki.ca)
    app = SenderStub()
    with serve(app, ssl_context=context) as running:
        yield app, running


def test_tls_ma_with_the_generated_test_pki(local: Emulator, pki: PkiFiles) -> None:
    pems = {"client_cert": pki.client_cert.read_text(), "client_key": pki.client_key.read_text()}
    with mtls_stub(pki) as (app, running):
        url = root_of(running, "mtls", host="localhost")
        assert register(local, "R1012", "default", url, ca_bundle=pki.ca.read_text(), **pems).status == 201
        listed = local.request("GET", "/tkw/endpoints", admin("R1012")).json["endpoints"][0]
        assert listed["mutual_tls"] is True and "client_key" not in listed
        ping = local.request("POST", "/tkw/endpoints/default/ping", admin("R1012"))
        assert ping.json["reachable"] is True
        answer, _ = send(local, "R1012", validation_request(FULL))
        (link,) = settled_responses(local, "R1012", str(answer.header("TKW-Report-Id")), 1)
        assert link["status"] == "sent" and len(app.of("/mtls/FHIR/R4/$process-message")) == 1

        # Without the client certificate the sender's server refuses: a TLS failure, said plainly.
        assert register(local, "R1013", "default", url, ca_bundle=pki.ca.read_text()).status == 201
        answer, _ = send(local, "R1013", validation_request(FULL))
        (link,) = settled_responses(local, "R1013", str(answer.header("TKW-Report-Id")), 1)
        assert link["status"] == "failed" and "TLS" in link["summary"]


def test_the_cli_sets_lists_and_removes_endpoints(local: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    from tkw import cli

    common = ["endpoints", "--emulator", local.root, "--ods", "R1014"]
    assert cli.main([*common, "set", "default", "http://127.0.0.1:9/sender/FHIR/R4"]) == 0
    assert "default: http://127.0.0.1:9/sender/FHIR/R4 registered for R1014" in capsys.readouterr().out
    assert cli.main([*common, "list"]) == 0
    assert capsys.readouterr().out.startswith("default        http://127.0.0.1:9/sender/FHIR/R4")
    assert cli.main([*common, "remove", "default"]) == 0
    assert cli.main([*common, "remove", "default"]) == 1
    assert "No endpoint 'default' is registered" in capsys.readouterr().err
    assert cli.main([*common, "set", "default", "ftp://nowhere"]) == 1


def test_tkw_listen_receives_responses_locally(local: Emulator) -> None:
    port = free_port()
    listener = subprocess.Popen(
        [sys.executable, "-m", "tkw.cli", "listen", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "layers" / "tkw")},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert listener.stdout is not None
        assert listener.stdout.readline().startswith(f"Listening on http://127.0.0.1:{port}/")
        url = f"http://127.0.0.1:{port}/booking-and-referral/FHIR/R4"
        assert register(local, "R1015", "default", url).status == 201
        bundle = validation_request(FULL)
        answer, sent = send(local, "R1015", bundle)
        assert answer.status == 200
        line = listener.stdout.readline()
        assert line.startswith("POST /booking-and-referral/FHIR/R4/$process-message: servicerequest-response (new)")
        assert f"responds to Bundle {bundle['id']}" in line and sent["X-Correlation-Id"] in line
        (link,) = settled_responses(local, "R1015", str(answer.header("TKW-Report-Id")), 1)
        assert (link["status"], link["http_status"]) == ("sent", 200)
    finally:
        listener.terminate()
        listener.wait(timeout=10)


def test_a_registered_sender_service_is_in_the_endpoint_catalogue(
    local: Emulator, stub: tuple[SenderStub, RunningStub]
) -> None:
    """Issue 14 item 5: the catalogue holds TKW's services plus any service an organisation registers."""
    _, running = stub
    service = "2000555556"  # in neither guide's table: unknown until registered
    unknown = local.request("GET", "/booking-and-referral/FHIR/R4/metadata", bars_headers(service, ods="R1019"))
    assert unknown.status == 404 and unknown.json["issue"][0]["details"]["coding"][0]["code"] == "PROXY_NOT_FOUND"
    assert register(local, "R1019", service, root_of(running, "catalogue")).status == 201
    known = local.request("GET", "/booking-and-referral/FHIR/R4/metadata", bars_headers(service, ods="R1019"))
    assert known.status == 200 and known.json["resourceType"] == "CapabilityStatement"
    # Registered by R1019, so routable for R1019's requests only.
    other = local.request("GET", "/booking-and-referral/FHIR/R4/metadata", bars_headers(service, ods="R1020"))
    assert other.status == 404
    assert local.request("DELETE", f"/tkw/endpoints/{service}", admin("R1019")).status == 204
