"""Logging hygiene: at INFO, the emulator's logs carry no credential and no patient identifier.

One full run in ``int`` mode, as a supplier would do it: register an application, get a token
(and have a replayed assertion refused), book and refer for an ordinary patient and for the
stateful 111-to-ED patient, read both back, search by patient, hit the error paths (a bad token,
a malformed bundle, an unknown id), read the reports and the state. Then the runner's whole
output (its own lines and every function's Powertools JSON logs) is searched for the Authorization
values, the tokens, the client assertions, the API key, the private key and the NHS numbers.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from bars_support import bars_headers, example
from emulator_support import Emulator, HttpResult, start_emulator, stop_emulator
from unit.stateful.stateful_bundles import booking_new, referral

from tkw.auth.client import fetch_token, generate_key_pair, mint_client_assertion, register_app, request_token
from tkw.message_kinds import NHS_NUMBER_SYSTEM

PATIENT = "9054613556"  # TKW's verified patient
STATEFUL_PATIENT = "9707606312"  # the stateful 111-to-ED patient
ODS = "LOGS01"
FORM = (
    "grant_type=client_credentials"
    "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
    "&client_assertion="
)


def with_patient(bundle: dict[str, Any], nhs_number: str) -> dict[str, Any]:
    bundle = copy.deepcopy(bundle)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            for ident in resource.get("identifier", []):
                if ident.get("system") == NHS_NUMBER_SYSTEM:
                    ident["value"] = nhs_number
    return bundle


class Run:
    """The requests of one supplier session, and every secret it used."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.secrets: dict[str, str] = {}
        self.results: list[HttpResult] = []

    def headers(self, **extra: str) -> dict[str, str]:
        return bars_headers(ods=ODS) | {"Authorization": f"Bearer {self.secrets['access token']}"} | extra

    def bars(self, method: str, path: str, body: Any = None, **extra: str) -> HttpResult:
        headers = self.headers(**extra)
        raw = None
        if body is not None:
            headers["Content-Type"] = "application/fhir+json"
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        result = self.emulator.bars(method, path, headers, raw)
        self.results.append(result)
        return result

    def focus_id(self, result: HttpResult, resource_type: str) -> str:
        assert result.status == 200, result.raw[:300]
        return next(e["resource"]["id"] for e in result.json["entry"] if e["resource"]["resourceType"] == resource_type)


@pytest.fixture(scope="module")
def logged() -> Iterator[tuple[dict[str, str], str]]:
    emulator = start_emulator({"AUTH_MODE": "int", "POWERTOOLS_LOG_LEVEL": "INFO"})
    run = Run(emulator)
    try:
        scenario(run)
    finally:
        output = stop_emulator(emulator)
    yield run.secrets, output


def scenario(run: Run) -> None:
    emulator = run.emulator
    token_url = emulator.root + "/oauth2/token"
    private_pem, public_pem = generate_key_pair(bits=2048)
    app = register_app(emulator.root, "Logging supplier", "LogSupplier-INT-1", public_pem, [ODS])
    run.secrets["API key"] = app["api_key"]
    run.secrets["private key"] = private_pem.split("-----")[2].strip().splitlines()[1]
    token = fetch_token(private_pem, "LogSupplier-INT-1", app["api_key"], token_url)
    run.secrets["access token"] = token.access_token
    assertion = mint_client_assertion(private_pem, "LogSupplier-INT-1", app["api_key"], token_url)
    run.secrets["client assertion"] = assertion
    run.secrets["client assertion signature"] = assertion.rsplit(".", 1)[1]
    request_token(token_url, assertion)
    with pytest.raises(Exception, match=r"(?i)jti"):
        request_token(token_url, assertion)  # replayed: refused, and the refusal is logged
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    bad = emulator.request("POST", "/oauth2/token", form, (FORM + assertion + "x").encode())
    assert bad.status in (400, 401)
    run.secrets["bad token"] = "eyJhbGciOiJSUzUxMiJ9.c2VjcmV0LXRva2VuLXZhbHVl.c2lnbmF0dXJl"
    bad_bearer = {"Authorization": f"Bearer {run.secrets['bad token']}"}
    refused = emulator.bars("GET", "/metadata", bars_headers(ods=ODS) | bad_bearer)
    assert refused.status == 401

    # An ordinary patient: book, refer, read, search.
    official = with_patient(example("process_message/POST-body.json"), PATIENT)
    booking = run.focus_id(run.bars("POST", "/$process-message", official), "Appointment")
    referral_id = run.focus_id(
        run.bars("POST", "/$process-message", with_patient(referral(None), PATIENT)), "ServiceRequest"
    )
    assert run.bars("GET", f"/Appointment/{booking}").status == 200
    assert run.bars("GET", f"/ServiceRequest/{referral_id}").status == 200
    nhs_token = f"{NHS_NUMBER_SYSTEM}|{PATIENT}".replace(":", "%3A").replace("/", "%2F").replace("|", "%7C")
    assert run.bars("GET", f"/Appointment?patient%3Aidentifier={nhs_token}").status == 200
    assert run.bars("GET", f"/ServiceRequest?patient%3Aidentifier={PATIENT}").status == 200

    # The stateful patient: the transitions are logged at INFO.
    booked = run.focus_id(run.bars("POST", "/$process-message", booking_new()), "Appointment")
    assert run.bars("POST", "/$process-message", booking_new()).status == 409  # already booked: refused, logged
    referred = run.focus_id(run.bars("POST", "/$process-message", referral(booked)), "ServiceRequest")
    assert run.bars("GET", f"/ServiceRequest/{referred}").status == 200
    assert run.bars("GET", f"/Appointment?patient%3Aidentifier={STATEFUL_PATIENT}").status == 200

    # Error paths: structure errors, an unknown id, a sentinel server error.
    broken = with_patient(example("process_message/POST-body.json"), PATIENT)
    broken["entry"][2]["resource"]["birthDate"] = f"born-{PATIENT}"
    assert run.bars("POST", "/$process-message", broken).status == 400
    assert run.bars("POST", "/$process-message", with_patient(referral(None), "9853944189")).status == 500
    assert run.bars("GET", "/Appointment/00000000-0000-4000-8000-000000000000").status == 404
    # Senders that put the NHS number where an id goes, or ask for a resource BaRS does not have.
    assert run.bars("GET", f"/Appointment/{PATIENT}").status == 400
    assert run.bars("GET", f"/Patient/{PATIENT}").status == 404
    spaced = f"{STATEFUL_PATIENT[:3]}%20{STATEFUL_PATIENT[3:6]}%20{STATEFUL_PATIENT[6:]}"
    assert run.bars("DELETE", f"/ServiceRequest/{spaced}").status == 405

    # The emulator's own endpoints.
    listed = emulator.request("GET", "/tkw/reports?limit=5", run.headers())
    assert listed.status == 200
    first = listed.json["reports"][0]["id"]
    assert emulator.request("GET", f"/tkw/reports/{first}", run.headers()).status == 200
    assert emulator.request("GET", "/tkw/state", run.headers()).status == 200


def test_the_run_was_logged_at_info(logged: tuple[dict[str, str], str]) -> None:
    _, output = logged
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    levels = {r.get("level") for r in records}
    assert "INFO" in levels, "the functions' INFO logs are in the captured output"
    assert any(r.get("message") == "Stateful transition" for r in records)
    assert len(records) >= 20


def test_the_runner_logs_one_line_per_request_with_its_status(logged: tuple[dict[str, str], str]) -> None:
    # Written once the answer has gone: the line still says how each request was answered.
    _, output = logged
    lines = [line for line in output.splitlines() if " tkw.local " in line]
    base = "/booking-and-referral/FHIR/R4"
    assert any(re.search(rf"POST {base}/\$process-message -> 409 \(\d+\.\d ms\)", x) for x in lines)
    assert any(re.search(rf"GET {base}/Appointment/\S+ -> 404 \(", x) for x in lines)
    assert any(re.search(r"GET /tkw/state -> 200 \(", x) for x in lines)


@pytest.mark.parametrize(
    "secret", ["API key", "private key", "access token", "client assertion", "client assertion signature", "bad token"]
)
def test_no_credential_is_logged(logged: tuple[dict[str, str], str], secret: str) -> None:
    secrets, output = logged
    assert secrets[secret] not in output, f"the {secret} is in the logs"


def test_no_authorization_header_is_logged(logged: tuple[dict[str, str], str]) -> None:
    _, output = logged
    assert not re.search(r"(?i)bearer\s+[A-Za-z0-9._~+/-]{8,}", output), "an Authorization value is in the logs"
    assert not re.search(r'(?i)"authorization"\s*:', output), "the Authorization header is in the logs"


@pytest.mark.parametrize("nhs_number", [PATIENT, STATEFUL_PATIENT, "9853944189"])
def test_no_nhs_number_is_logged(logged: tuple[dict[str, str], str], nhs_number: str) -> None:
    _, output = logged
    spaced = f"{nhs_number[:3]} {nhs_number[3:6]} {nhs_number[6:]}"
    assert nhs_number not in output and spaced not in output, f"NHS number {nhs_number} is in the logs"
