"""/tkw/apps and the seed file: keys validated, private keys refused, no key material echoed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from unit.auth.auth_support import BASE_URL, NOW, key_pair

from tkw.auth.apps import (
    APP_TTL_SECONDS,
    RegistrationError,
    delete_app,
    get_app,
    load_apps_file,
    register_app,
    seed_from_env,
)
from tkw.auth.memory import MemoryAuthStore
from tkw.http import ApiRequest

# Every registration names the organisations it acts for.
BOUND = {"ods_codes": ["A1001"]}


def post(body: Any, raw: bytes | None = None) -> ApiRequest:
    return ApiRequest(
        method="POST",
        path="/tkw/apps",
        headers={"content-type": ("application/json",)},
        body=raw if raw is not None else json.dumps(body).encode(),
        base_url=BASE_URL,
    )


def at(method: str, api_key: str) -> ApiRequest:
    return ApiRequest(method=method, path=f"/tkw/apps/{api_key}", path_params={"api_key": api_key}, base_url=BASE_URL)


def answer(response) -> dict:
    return json.loads(response.body_text())


def jwk_of(public_pem: str, kid: str) -> dict[str, Any]:
    key = serialization.load_pem_public_key(public_pem.encode())
    data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key))
    return {**data, "kid": kid, "alg": "RS512", "use": "sig"}


def test_register_with_a_pem_returns_an_api_key() -> None:
    store = MemoryAuthStore()
    response = register_app(
        post({"name": "My app", **BOUND, "kid": "MySupplier-INT-1", "public_key_pem": key_pair("a").public_pem}),
        store,
        NOW,
    )
    assert response.status == 201, response.body_text()
    data = answer(response)
    api_key = data["api_key"]
    assert len(api_key) == 32 and api_key.isalnum()
    assert data["kids"] == ["MySupplier-INT-1"]
    assert data["token_url"] == BASE_URL + "/oauth2/token"
    assert data["expires_at"] == int(NOW) + APP_TTL_SECONDS
    assert response.headers["Location"] == f"{BASE_URL}/tkw/apps/{api_key}"
    assert "BEGIN PUBLIC KEY" not in response.body_text()
    # A 2048-bit key is accepted with a warning: NHS England asks for 4096.
    assert any("4096" in w for w in data["warnings"])
    stored = store.get_app(api_key, NOW)
    assert stored is not None and stored.key_for("MySupplier-INT-1") is not None


def test_register_with_a_jwks() -> None:
    store = MemoryAuthStore()
    jwks = {"keys": [jwk_of(key_pair("a").public_pem, "Sup-INT-1"), jwk_of(key_pair("b").public_pem, "Sup-INT-2")]}
    response = register_app(post({"name": "Two keys", **BOUND, "jwks": jwks}), store, NOW)
    assert response.status == 201, response.body_text()
    assert answer(response)["kids"] == ["Sup-INT-1", "Sup-INT-2"]
    one = register_app(post({"name": "One key", **BOUND, "kid": "Sup-INT-2", "jwks": jwks}), store, NOW)
    assert answer(one)["kids"] == ["Sup-INT-2"]


def test_get_shows_kids_but_no_key_material() -> None:
    store = MemoryAuthStore()
    created = answer(
        register_app(
            post({"name": "My app", **BOUND, "kid": "MySupplier-INT-1", "public_key_pem": key_pair("a").public_pem}),
            store,
            NOW,
        )
    )
    response = get_app(at("GET", created["api_key"]), store, NOW)
    assert response.status == 200
    shown = answer(response)
    assert shown == {
        "api_key": created["api_key"],
        "name": "My app",
        "kids": ["MySupplier-INT-1"],
        "ods_codes": ["A1001"],
        "created_at": int(NOW),
        "expires_at": int(NOW) + APP_TTL_SECONDS,
    }
    # Expired registrations are gone.
    assert get_app(at("GET", created["api_key"]), store, NOW + APP_TTL_SECONDS).status == 404


def test_delete_then_get_is_404() -> None:
    store = MemoryAuthStore()
    created = answer(
        register_app(
            post({"name": "My app", **BOUND, "kid": "MySupplier-INT-1", "public_key_pem": key_pair("a").public_pem}),
            store,
            NOW,
        )
    )
    assert delete_app(at("DELETE", created["api_key"]), store, NOW).status == 204
    assert get_app(at("GET", created["api_key"]), store, NOW).status == 404
    assert delete_app(at("DELETE", created["api_key"]), store, NOW).status == 404
    assert get_app(at("GET", "../../etc/passwd"), store, NOW).status == 404


def _private_pem() -> str:
    return key_pair("a").private_pem


def _small_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - must be refused
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _ec_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"name": "x", **BOUND, "kid": "Sup-INT-1", "public_key_pem": "PRIVATE"}, "PRIVATE key"),
        ({"name": "x", **BOUND, "kid": "Sup-INT-1", "public_key_pem": "not a key"}, "not a PEM"),
        ({"name": "x", **BOUND, "public_key_pem": "PEM"}, "kid is required"),
        ({"name": "x", **BOUND, "kid": "has space", "public_key_pem": "PEM"}, "kid must be"),
        ({"kid": "Sup-INT-1", "public_key_pem": "PEM"}, "name"),
        ({"name": "x", **BOUND, "kid": "Sup-INT-1"}, "exactly one of"),
        ({"name": "x", **BOUND, "kid": "Sup-INT-1", "public_key_pem": "PEM", "jwks": {"keys": []}}, "exactly one of"),
        ({"name": "x", **BOUND, "kid": "Sup-INT-1", "public_key_pem": "PEM", "api_key": "mine"}, "api_key is assigned"),
        ({"name": "x", **BOUND, "kid": "Sup-INT-1", "publicKey": "PEM"}, "publicKey"),
        ({"name": "x", **BOUND, "jwks": {"keys": []}}, "non-empty 'keys'"),
        (
            {
                "name": "x",
                **BOUND,
                "jwks": {"keys": [{"kty": "RSA", "kid": "k-INT-1", "n": "AQAB", "e": "AQAB", "d": "AQAB"}]},
            },
            "PRIVATE key",
        ),
        ({"name": "x", **BOUND, "jwks": {"keys": [{"kty": "EC", "kid": "k-INT-1"}]}}, "only RSA"),
        (
            {"name": "x", **BOUND, "jwks": {"keys": [{"kty": "RSA", "kid": "k-INT-1", "n": "!!", "e": "AQAB"}]}},
            "valid RSA JWK",
        ),
        (["not", "an", "object"], "JSON object"),
    ],
)
def test_bad_registrations_say_what_to_fix(body: Any, expected: str) -> None:
    replacements = {"PRIVATE": _private_pem(), "PEM": key_pair("a").public_pem}
    if isinstance(body, dict) and body.get("public_key_pem") in replacements:
        body = {**body, "public_key_pem": replacements[body["public_key_pem"]]}
    store = MemoryAuthStore()
    response = register_app(post(body), store, NOW)
    assert response.status == 400
    data = answer(response)
    assert data["error"] == "invalid_request"
    assert expected in data["error_description"], data["error_description"]
    assert "MII" not in data["error_description"]  # no key material echoed
    assert store.apps == {}


@pytest.mark.parametrize(("pem", "expected"), [(_small_key_pem, "1024-bit"), (_ec_key_pem, "not an RSA")])
def test_weak_or_non_rsa_keys_are_refused(pem: Any, expected: str) -> None:
    body = {"name": "x", **BOUND, "kid": "Sup-INT-1", "public_key_pem": pem()}
    response = register_app(post(body), MemoryAuthStore(), NOW)
    assert response.status == 400 and expected in answer(response)["error_description"]


def test_a_body_that_is_not_json() -> None:
    response = register_app(post(None, raw=b"name=x"), MemoryAuthStore(), NOW)
    assert response.status == 400 and answer(response)["error_description"] == "the body is not JSON"


def test_kid_convention_is_a_warning() -> None:
    response = register_app(
        post({"name": "x", **BOUND, "kid": "key1", "public_key_pem": key_pair("a").public_pem}), MemoryAuthStore(), NOW
    )
    assert response.status == 201
    assert any("<Supplier>-<Environment>-<rotation>" in w for w in answer(response)["warnings"])


def _seed(tmp_path: Path, entries: list[dict[str, Any]]) -> Path:
    path = tmp_path / "apps.json"
    path.write_text(json.dumps(entries))
    return path


def test_seed_file_loads_fixed_api_keys(tmp_path: Path) -> None:
    (tmp_path / "b.pub.pem").write_text(key_pair("b").public_pem)
    path = _seed(
        tmp_path,
        [
            {
                "api_key": "SeedKey0000000000000000000000001",
                "name": "Seeded",
                **BOUND,
                "kid": "Seed-INT-1",
                "public_key_pem": key_pair("a").public_pem,
            },
            {
                "api_key": "SeedKey0000000000000000000000002",
                "name": "From file",
                **BOUND,
                "kid": "Seed-INT-2",
                "public_key_file": "b.pub.pem",
            },
        ],
    )
    store = MemoryAuthStore()
    seeded = seed_from_env(store, NOW, {"TKW_APPS_FILE": str(path)})
    assert seeded == ["SeedKey0000000000000000000000001", "SeedKey0000000000000000000000002"]
    first = store.get_app("SeedKey0000000000000000000000001", NOW + 10 * APP_TTL_SECONDS)
    assert first is not None and first.expires_at is None and first.kids == ["Seed-INT-1"]
    second = store.get_app("SeedKey0000000000000000000000002", NOW)
    assert second is not None and second.keys[0].public_key_pem == key_pair("b").public_pem


def test_no_seed_file_is_fine() -> None:
    assert seed_from_env(MemoryAuthStore(), NOW, {}) == []


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([{"name": "x", **BOUND, "kid": "k-INT-1", "public_key_pem": "PEM"}], "api_key is required"),
        (
            [
                {"api_key": "a", "name": "x", **BOUND, "kid": "k-INT-1", "public_key_pem": "PEM"},
                {"api_key": "a", "name": "y", **BOUND, "kid": "k-INT-1", "public_key_pem": "PEM"},
            ],
            "share an api_key",
        ),
        (
            [{"api_key": "a", "name": "x", **BOUND, "kid": "k-INT-1", "public_key_file": "missing.pem"}],
            "cannot be read",
        ),
        ({"not": "a list"}, "JSON list"),
    ],
)
def test_bad_seed_files_fail_loudly(tmp_path: Path, entries: Any, expected: str) -> None:
    text = json.dumps(entries).replace('"PEM"', json.dumps(key_pair("a").public_pem))
    path = tmp_path / "apps.json"
    path.write_text(text)
    with pytest.raises(RegistrationError, match=expected):
        load_apps_file(path, NOW)
