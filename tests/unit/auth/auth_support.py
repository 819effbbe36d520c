"""Helpers for the API-M emulation tests: real RSA keys, assertions (good and hostile), requests.

Imported as ``unit.auth.auth_support`` (``tests`` is on the path) by unit and functional tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tkw.auth.models import CLIENT_ASSERTION_TYPE, GRANT_TYPE, AppKey, AppRecord
from tkw.auth.ports import AuthStore
from tkw.http import ApiRequest

BASE_URL = "http://127.0.0.1:3000"
AUDIENCE = BASE_URL + "/oauth2/token"
API_KEY = "IwrOdg62kM9LN1oFhlHAhWPHAhWPbV62"
OTHER_API_KEY = "Zq7cTkW3mN9pXb2LrV5sHd8JfG4aYe61"
KID = "TestSupplier-INT-1"
NOW = 1_760_000_000.0


@dataclass(frozen=True)
class KeyPair:
    private_pem: str
    public_pem: str


@cache
def key_pair(name: str = "a", bits: int = 2048) -> KeyPair:
    """A real RSA key pair, generated once per test session and name."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return KeyPair(
        private_pem=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        public_pem=key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
    )


def app_record(api_key: str = API_KEY, kid: str = KID, key: str = "a", name: str = "Test app") -> AppRecord:
    return AppRecord(
        api_key=api_key,
        name=name,
        keys=(AppKey(kid=kid, public_key_pem=key_pair(key).public_pem),),
        created_at=int(NOW) - 60,
    )


def register(store: AuthStore, api_key: str = API_KEY, kid: str = KID, key: str = "a") -> AppRecord:
    app = app_record(api_key, kid, key)
    store.put_app(app)
    return app


def claims(now: float = NOW, api_key: str = API_KEY, **overrides: Any) -> dict[str, Any]:
    """Valid claims; an override of None removes the claim."""
    base: dict[str, Any] = {
        "iss": api_key,
        "sub": api_key,
        "aud": AUDIENCE,
        "jti": str(uuid.uuid4()),
        "exp": int(now) + 300,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(
    payload: dict[str, Any],
    key: str = "a",
    *,
    kid: str | None = KID,
    typ: str | None = "JWT",
    alg: str = "RS512",
) -> str:
    headers: dict[str, Any] = {}
    if kid is not None:
        headers["kid"] = kid
    headers["typ"] = typ
    token = jwt.encode(payload, key_pair(key).private_pem, algorithm=alg, headers=headers)
    if typ is None:  # pyjwt always writes typ; rebuild the header without it
        token = _with_header(token, {"alg": alg, **({"kid": kid} if kid is not None else {})})
    return token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json_b64(value: Any) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _with_header(token: str, header: dict[str, Any]) -> str:
    _, payload, signature = token.split(".")
    return ".".join((_json_b64(header), payload, signature))


def unsigned(payload: dict[str, Any], kid: str = KID) -> str:
    """``alg: none``: no signature at all."""
    return f"{_json_b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_json_b64(payload)}."


def hmac_with_public_key(payload: dict[str, Any], alg: str = "HS256", key: str = "a", kid: str = KID) -> str:
    """The classic key-confusion attack: HMAC-signed with the *public* key PEM as the shared secret."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signing_input = f"{_json_b64({'alg': alg, 'typ': 'JWT', 'kid': kid})}.{_json_b64(payload)}"
    mac = hmac.new(key_pair(key).public_pem.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{_b64(mac)}"


def tampered(token: str, **changes: Any) -> str:
    """A validly signed token whose claims were changed afterwards (signature kept)."""
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(changes)
    return ".".join((header, _json_b64(data), signature))


def form(assertion: str | None, **overrides: str | None) -> dict[str, str]:
    base: dict[str, str | None] = {
        "grant_type": GRANT_TYPE,
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def token_request(
    fields: dict[str, str] | None = None,
    *,
    body: bytes | None = None,
    content_type: str = "application/x-www-form-urlencoded",
    base_url: str = BASE_URL,
) -> ApiRequest:
    if body is None and fields is not None:
        body = urllib.parse.urlencode(fields).encode()
    return ApiRequest(
        method="POST",
        path="/oauth2/token",
        headers={"content-type": (content_type,)},
        body=body,
        base_url=base_url,
    )


def bars_request(authorization: str | None) -> ApiRequest:
    headers = {"authorization": (authorization,)} if authorization is not None else {}
    return ApiRequest(method="GET", path="/booking-and-referral/FHIR/R4/Slot", headers=headers, base_url=BASE_URL)


# The attack suite: each builds a token-request form (given "now") that must be refused, with the
# check that must fail and API-M's (status, error, error_description prefix).
Attack = tuple[Callable[[float], dict[str, str]], str, int, str, str]

ATTACKS: dict[str, Attack] = {
    "alg none": (
        lambda now: form(unsigned(claims(now))),
        "header.alg",
        400,
        "invalid_request",
        "Invalid 'alg' header in client_assertion JWT - unsupported JWT algorithm - must be 'RS512'",
    ),
    "HS256 with the public key as secret": (
        lambda now: form(hmac_with_public_key(claims(now), "HS256")),
        "header.alg",
        400,
        "invalid_request",
        "Invalid 'alg' header in client_assertion JWT",
    ),
    "HS512 with the public key as secret": (
        lambda now: form(hmac_with_public_key(claims(now), "HS512")),
        "header.alg",
        400,
        "invalid_request",
        "Invalid 'alg' header in client_assertion JWT",
    ),
    "RS256 with the right key": (
        lambda now: form(sign(claims(now), alg="RS256")),
        "header.alg",
        400,
        "invalid_request",
        "Invalid 'alg' header in client_assertion JWT",
    ),
    "signed with another private key": (
        lambda now: form(sign(claims(now), key="b")),
        "signature",
        401,
        "public_key error",
        "JWT signature verification failed",
    ),
    "exp altered after signing": (
        lambda now: form(tampered(sign(claims(now, exp=int(now) + 10)), exp=int(now) + 200)),
        "signature",
        401,
        "public_key error",
        "JWT signature verification failed",
    ),
    "aud altered after signing": (
        lambda now: form(tampered(sign(claims(now, aud="https://evil.example/oauth2/token")), aud=AUDIENCE)),
        "signature",
        401,
        "public_key error",
        "JWT signature verification failed",
    ),
    "unknown kid": (
        lambda now: form(sign(claims(now), kid="TestSupplier-INT-9")),
        "key.kid",
        401,
        "invalid_request",
        "Invalid 'kid' header in client_assertion JWT - no matching public key",
    ),
    "missing kid": (
        lambda now: form(sign(claims(now), kid=None)),
        "header.kid",
        400,
        "invalid_request",
        "Missing 'kid' header in client_assertion JWT",
    ),
    "unknown API key": (
        lambda now: form(sign(claims(now, api_key="NoSuchApiKey000000000000000000000"))),
        "app.api_key",
        401,
        "invalid_request",
        "Invalid 'iss'/'sub' claims in client_assertion JWT",
    ),
    "iss differs from sub": (
        lambda now: form(sign(claims(now, sub=OTHER_API_KEY))),
        "claim.iss_sub",
        400,
        "invalid_request",
        "Missing or non-matching 'iss'/'sub' claims in client_assertion JWT",
    ),
    "wrong aud": (
        lambda now: form(sign(claims(now, aud="https://int.api.service.nhs.uk/oauth2/token"))),
        "claim.aud",
        401,
        "invalid_request",
        "Missing or invalid 'aud' claim in client_assertion JWT",
    ),
    "missing aud": (
        lambda now: form(sign(claims(now, aud=None))),
        "claim.aud",
        401,
        "invalid_request",
        "Missing or invalid 'aud' claim in client_assertion JWT",
    ),
    "expired": (
        lambda now: form(sign(claims(now, exp=int(now) - 1))),
        "claim.exp.expired",
        400,
        "invalid_request",
        "Invalid 'exp' claim in client_assertion JWT - JWT has expired",
    ),
    "exp more than 5 minutes ahead": (
        lambda now: form(sign(claims(now, exp=int(now) + 3600))),
        "claim.exp.window",
        400,
        "invalid_request",
        "Invalid 'exp' claim in client_assertion JWT - more than 5 minutes in future",
    ),
    "exp as a string": (
        lambda now: form(sign(claims(now, exp=str(int(now) + 60)))),
        "claim.exp",
        400,
        "invalid_request",
        "Invalid 'exp' claim in client_assertion JWT - must be an integer",
    ),
    "missing exp": (
        lambda now: form(sign(claims(now, exp=None))),
        "claim.exp",
        400,
        "invalid_request",
        "Missing 'exp' claim in client_assertion JWT",
    ),
    "missing jti": (
        lambda now: form(sign(claims(now, jti=None))),
        "claim.jti",
        400,
        "invalid_request",
        "Missing 'jti' claim in client_assertion JWT",
    ),
    "jti not a string": (
        lambda now: form(sign(claims(now, jti=1234567890))),
        "claim.jti",
        400,
        "invalid_request",
        "Invalid 'jti' claim in client_assertion JWT - must be a unique string value such as a GUID",
    ),
    "typ not JWT": (
        lambda now: form(sign(claims(now), typ="JOSE")),
        "header.typ",
        400,
        "invalid_request",
        "Invalid 'typ' header in client_assertion JWT - must be 'JWT'",
    ),
    "missing grant_type": (
        lambda now: form(sign(claims(now)), grant_type=None),
        "form.grant_type",
        400,
        "invalid_request",
        "grant_type is missing",
    ),
    "wrong grant_type": (
        lambda now: form(sign(claims(now)), grant_type="authorization_code"),
        "form.grant_type",
        400,
        "unsupported_grant_type",
        "grant_type is invalid",
    ),
    "missing client_assertion_type": (
        lambda now: form(sign(claims(now)), client_assertion_type=None),
        "form.client_assertion_type",
        400,
        "invalid_request",
        "Missing or invalid client_assertion_type",
    ),
    "wrong client_assertion_type": (
        lambda now: form(sign(claims(now)), client_assertion_type="urn:ietf:params:oauth:client-assertion-type:saml2"),
        "form.client_assertion_type",
        400,
        "invalid_request",
        "Missing or invalid client_assertion_type",
    ),
    "missing client_assertion": (
        lambda now: form(None),
        "form.client_assertion",
        400,
        "invalid_request",
        "Missing client_assertion",
    ),
    "garbage assertion": (
        lambda now: form("not-a-jwt"),
        "jwt.format",
        400,
        "invalid_request",
        "Malformed JWT in client_assertion",
    ),
    "garbage segments": (
        lambda now: form("eyJhbGciOi.!!!.???"),
        "jwt.format",
        400,
        "invalid_request",
        "Malformed JWT in client_assertion",
    ),
}
