"""API-M security over HTTP in int mode: register a key, mint a JWT, get a token, call BaRS."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from bars_support import assert_outcome, bars_headers, example
from emulator_support import Emulator, start_emulator, stop_emulator

from tkw.auth.client import fetch_token, generate_key_pair, mint_client_assertion, register_app, request_token

FORM = (
    "grant_type=client_credentials"
    "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
    "&client_assertion="
)


@pytest.fixture(scope="module")
def int_emulator() -> Iterator[Emulator]:
    running = start_emulator({"AUTH_MODE": "int"})
    yield running
    stop_emulator(running)


@pytest.fixture(scope="module")
def application(int_emulator: Emulator) -> dict[str, str]:
    private_pem, public_pem = generate_key_pair(bits=2048)
    registered = register_app(int_emulator.root, "E2E supplier", "E2ESupplier-INT-1", public_pem, ["A1001"])
    return {"api_key": registered["api_key"], "kid": "E2ESupplier-INT-1", "private_pem": private_pem}


def test_a_bars_call_without_a_token_is_401_unknown(int_emulator: Emulator) -> None:
    result = int_emulator.bars("GET", "/Slot?Schedule.actor%3AHealthcareService=2000072489", bars_headers())
    assert result.status == 401
    assert_outcome(result.json, "SEND_UNAUTHORIZED", "unknown")


def test_an_invalid_token_is_401_security(int_emulator: Emulator) -> None:
    headers = bars_headers() | {"Authorization": "Bearer invalid_token"}
    result = int_emulator.bars("GET", "/metadata", headers)
    assert result.status == 401
    assert_outcome(result.json, "SEND_UNAUTHORIZED", "security")


def test_ping_and_proxy_metadata_need_no_token(int_emulator: Emulator) -> None:
    assert int_emulator.bars("GET", "/_ping").status == 200
    assert int_emulator.bars("GET", "/metadata").status == 200


def test_register_mint_token_then_an_authorised_booking(int_emulator: Emulator, application: dict[str, str]) -> None:
    token_url = int_emulator.root + "/oauth2/token"
    assertion = mint_client_assertion(application["private_pem"], application["kid"], application["api_key"], token_url)
    raw = int_emulator.request(
        "POST", "/oauth2/token", {"Content-Type": "application/x-www-form-urlencoded"}, (FORM + assertion).encode()
    )
    assert raw.status == 200
    token = raw.json
    assert (token["token_type"], token["expires_in"]) == ("Bearer", "599")
    assert token["issued_at"].isdigit()
    headers = bars_headers() | {
        "Authorization": f"Bearer {token['access_token']}",
        "Content-Type": "application/fhir+json",
    }
    booking = json.dumps(example("process_message/POST-body.json")).encode()
    result = int_emulator.bars("POST", "/$process-message", headers, booking)
    assert result.status == 200, result.raw[:300]
    assert result.json["type"] == "message"


def test_a_replayed_assertion_is_refused(int_emulator: Emulator, application: dict[str, str]) -> None:
    token_url = int_emulator.root + "/oauth2/token"
    assertion = mint_client_assertion(application["private_pem"], application["kid"], application["api_key"], token_url)
    request_token(token_url, assertion)
    with pytest.raises(Exception) as refused:
        request_token(token_url, assertion)
    assert "jti" in str(refused.value).lower()


def test_an_assertion_for_another_audience_is_refused_with_a_precise_reason(
    int_emulator: Emulator, application: dict[str, str]
) -> None:
    token_url = int_emulator.root + "/oauth2/token"
    assertion = mint_client_assertion(
        application["private_pem"],
        application["kid"],
        application["api_key"],
        "https://int.api.service.nhs.uk/oauth2/token",
    )
    form = (
        "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion="
        + assertion
    )
    result = int_emulator.request(
        "POST", "/oauth2/token", {"Content-Type": "application/x-www-form-urlencoded"}, form.encode()
    )
    assert result.status == 401
    body = result.json
    assert set(body) >= {"error", "error_description", "message_id"}
    assert token_url in body["error_description"]


def test_tkw_endpoints_need_a_token_in_int_mode(int_emulator: Emulator, application: dict[str, str]) -> None:
    assert int_emulator.request("GET", "/tkw/state", bars_headers()).status == 401
    token = fetch_token(
        application["private_pem"], application["kid"], application["api_key"], int_emulator.root + "/oauth2/token"
    )
    authorised = int_emulator.request(
        "GET", "/tkw/state", bars_headers() | {"Authorization": f"Bearer {token.access_token}"}
    )
    assert authorised.status == 200
