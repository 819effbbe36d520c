"""The sender's helpers: assertions the emulator (and API-M) accept, key generation, the CLI offline."""

from __future__ import annotations

import stat
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from unit.auth.auth_support import API_KEY, AUDIENCE, KID, NOW, app_record, form, key_pair

from tkw import cli_auth
from tkw.auth import client
from tkw.auth.assertion import check_token_request
from tkw.auth.keys import kid_follows_convention


def test_minted_assertion_has_api_m_shape_and_passes_the_checker() -> None:
    assertion = client.mint_client_assertion(key_pair("a").private_pem, KID, API_KEY, AUDIENCE, now=NOW)
    assert jwt.get_unverified_header(assertion) == {"alg": "RS512", "kid": KID, "typ": "JWT"}
    claims = jwt.decode(
        assertion, key_pair("a").public_pem, algorithms=["RS512"], audience=AUDIENCE, options={"verify_exp": False}
    )
    assert claims["iss"] == claims["sub"] == API_KEY
    assert claims["exp"] == int(NOW) + 300
    verdict = check_token_request(
        form(assertion),
        audience=AUDIENCE,
        now=NOW,
        find_app={API_KEY: app_record()}.get,
        content_type="application/x-www-form-urlencoded",
    )
    assert verdict.failure is None
    assert all(c.passed for c in verdict.checks if not c.skipped), [c for c in verdict.checks if not c.passed]


def test_each_assertion_has_a_fresh_jti() -> None:
    jtis = {
        jwt.decode(
            client.mint_client_assertion(key_pair("a").private_pem, KID, API_KEY, AUDIENCE),
            options={"verify_signature": False},
        )["jti"]
        for _ in range(3)
    }
    assert len(jtis) == 3


@pytest.mark.parametrize("lifetime", [0, 301])
def test_lifetime_is_capped_at_five_minutes(lifetime: int) -> None:
    with pytest.raises(ValueError, match="lifetime"):
        client.mint_client_assertion(key_pair("a").private_pem, KID, API_KEY, AUDIENCE, lifetime_seconds=lifetime)


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000/oauth2/token"),
        ("http://127.0.0.1:3000/", "http://127.0.0.1:3000/oauth2/token"),
        ("http://127.0.0.1:3000/booking-and-referral/FHIR/R4", "http://127.0.0.1:3000/oauth2/token"),
        (
            "https://x.execute-api.eu-west-2.amazonaws.com/v1",
            "https://x.execute-api.eu-west-2.amazonaws.com/v1/oauth2/token",
        ),
        ("https://int.api.service.nhs.uk/oauth2/token", "https://int.api.service.nhs.uk/oauth2/token"),
    ],
)
def test_token_url_for(base: str, expected: str) -> None:
    assert client.token_url_for(base) == expected


def test_suggested_kids_follow_the_convention() -> None:
    assert client.suggest_kid("My Supplier Ltd", "int", 2) == "MySupplierLtd-int-2"
    assert kid_follows_convention(client.suggest_kid())


def test_generated_keys_are_rsa_pems() -> None:
    private_pem, public_pem = client.generate_key_pair(2048)
    key = serialization.load_pem_private_key(private_pem.encode(), None)
    assert isinstance(key, RSAPrivateKey) and key.key_size == 2048
    assert public_pem.startswith("-----BEGIN PUBLIC KEY-----")


def test_access_token_repr_hides_the_token() -> None:
    token = client.AccessToken("Sr5PGv19wTEHJdDr2wx2f7IGd0cw", 599, "Bearer", 1)
    assert "Sr5PGv19" not in repr(token)


def test_only_http_urls() -> None:
    with pytest.raises(ValueError, match="http"):
        client.request_token("file:///etc/passwd", "x")


def test_cli_keygen_writes_a_4096_bit_pair(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    private = tmp_path / "keys" / "private.pem"
    public = tmp_path / "keys" / "public.pem"
    args = ["keygen", "--supplier", "Acme", "--private-key", str(private), "--public-key", str(public)]
    assert cli_auth.main(args) == 0
    assert capsys.readouterr().out.strip() == "Acme-INT-1"
    key = serialization.load_pem_private_key(private.read_bytes(), None)
    assert isinstance(key, RSAPrivateKey) and key.key_size == 4096
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert serialization.load_pem_public_key(public.read_bytes()).public_numbers() == key.public_key().public_numbers()
    # Never overwrite a key silently.
    assert cli_auth.main(args) == 1
    assert "exists" in capsys.readouterr().err


def test_cli_token_needs_its_credentials(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("TKW_API_KEY", "TKW_KID", "TKW_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert cli_auth.main(["token"]) == 2
    assert "--api-key" in capsys.readouterr().err
