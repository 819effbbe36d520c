"""For senders: make a key pair, mint a client assertion, fetch an access token (stdlib HTTP only).

Works against the emulator and, unchanged, against API-M's INT token endpoint
(``https://int.api.service.nhs.uk/oauth2/token``)::

    from tkw.auth import client
    private_pem, public_pem = client.generate_key_pair()
    token = client.fetch_token(private_pem, kid="MySupplier-INT-1", api_key="...",
                               token_url="http://127.0.0.1:3000/oauth2/token")
    headers = {"Authorization": f"Bearer {token.access_token}"}
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tkw.auth.models import CLIENT_ASSERTION_TYPE, GRANT_TYPE, MAX_ASSERTION_LIFETIME_SECONDS, TOKEN_PATH

DEFAULT_TIMEOUT_SECONDS = 30.0
_BARS_BASE = "/booking-and-referral/FHIR/R4"


@dataclass(frozen=True, slots=True)
class AccessToken:
    access_token: str
    expires_in: int
    token_type: str
    issued_at_ms: int | None

    def __repr__(self) -> str:  # never print the token by accident
        return f"AccessToken(token_type={self.token_type!r}, expires_in={self.expires_in}, access_token=***)"


class TokenRequestError(RuntimeError):
    """The token endpoint refused: API-M's ``error``, ``error_description`` and ``message_id``."""

    def __init__(self, status: int, error: str, description: str, message_id: str | None) -> None:
        super().__init__(f"{status} {error}: {description} (message_id {message_id})")
        self.status = status
        self.error = error
        self.description = description
        self.message_id = message_id


def generate_key_pair(bits: int = 4096) -> tuple[str, str]:
    """A new RSA key pair as (private PKCS#8 PEM, public SPKI PEM). NHS England asks for 4096 bits."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return private_pem, public_pem


def suggest_kid(supplier: str = "MySupplier", environment: str = "INT", rotation: int = 1) -> str:
    """A kid in the onboarding convention ``<Supplier>-<Environment>-<rotation>``."""
    clean = "".join(c for c in supplier if c.isalnum()) or "MySupplier"
    env = "".join(c for c in environment if c.isalnum()) or "INT"
    return f"{clean}-{env}-{rotation}"


def token_url_for(base_url: str) -> str:
    """The token endpoint of an emulator (or API-M host) from its root or its BaRS base URL."""
    root = base_url.rstrip("/")
    if root.endswith(TOKEN_PATH):
        return root
    if root.endswith(_BARS_BASE):
        root = root[: -len(_BARS_BASE)]
    return root + TOKEN_PATH


def mint_client_assertion(
    private_key_pem: str | bytes,
    kid: str,
    api_key: str,
    token_url: str,
    *,
    now: float | None = None,
    lifetime_seconds: int = MAX_ASSERTION_LIFETIME_SECONDS,
    jti: str | None = None,
) -> str:
    """A signed client assertion (RS512; iss = sub = API key; aud = token URL; fresh jti; exp ≤ 5 min)."""
    import jwt

    if not 0 < lifetime_seconds <= MAX_ASSERTION_LIFETIME_SECONDS:
        raise ValueError(f"lifetime_seconds must be 1 to {MAX_ASSERTION_LIFETIME_SECONDS}")
    issued = time.time() if now is None else now
    claims = {
        "iss": api_key,
        "sub": api_key,
        "aud": token_url,
        "jti": jti or str(uuid.uuid4()),
        "exp": int(issued) + lifetime_seconds,
    }
    key = private_key_pem.encode("ascii") if isinstance(private_key_pem, str) else private_key_pem
    return jwt.encode(claims, key, algorithm="RS512", headers={"kid": kid, "typ": "JWT"})


def token_form(assertion: str) -> bytes:
    return urllib.parse.urlencode(
        {"grant_type": GRANT_TYPE, "client_assertion_type": CLIENT_ASSERTION_TYPE, "client_assertion": assertion}
    ).encode("ascii")


def _checked_url(url: str) -> str:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url!r}")
    return url


def _send(request: urllib.request.Request, timeout: float) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        body = {"error": "invalid_response", "error_description": raw[:200].decode("utf-8", "replace")}
    return status, body if isinstance(body, dict) else {"body": body}


def request_token(token_url: str, assertion: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> AccessToken:
    """POST the assertion to the token endpoint; raises :class:`TokenRequestError` on refusal."""
    request = urllib.request.Request(  # noqa: S310 - scheme checked
        _checked_url(token_url),
        data=token_form(assertion),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
    )
    status, body = _send(request, timeout)
    if status != 200 or "access_token" not in body:
        raise TokenRequestError(
            status,
            str(body.get("error", "unknown")),
            str(body.get("error_description", body)),
            body.get("message_id"),
        )
    issued = body.get("issued_at")
    return AccessToken(
        access_token=str(body["access_token"]),
        expires_in=int(body.get("expires_in", 0)),
        token_type=str(body.get("token_type", "")),
        issued_at_ms=int(issued) if issued is not None else None,
    )


def fetch_token(
    private_key_pem: str | bytes,
    kid: str,
    api_key: str,
    token_url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> AccessToken:
    """Mint a fresh assertion and exchange it for an access token."""
    return request_token(token_url, mint_client_assertion(private_key_pem, kid, api_key, token_url), timeout=timeout)


def register_app(
    base_url: str,
    name: str,
    kid: str,
    public_key_pem: str,
    ods_codes: Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """POST /tkw/apps on an emulator; the answer (``api_key``, ``kids``, ``token_url``, ``warnings``).

    ``ods_codes``: the organisations the application acts for (in int mode, the only ones whose
    reports, runs and state its tokens can read).
    """
    root = token_url_for(base_url)[: -len(TOKEN_PATH)]
    request = urllib.request.Request(  # noqa: S310 - scheme checked
        _checked_url(root + "/tkw/apps"),
        data=json.dumps(
            {"name": name, "ods_codes": list(ods_codes), "kid": kid, "public_key_pem": public_key_pem}
        ).encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    status, body = _send(request, timeout)
    if status != 201:
        raise TokenRequestError(
            status,
            str(body.get("error", "unknown")),
            str(body.get("error_description", body)),
            body.get("message_id"),
        )
    return body
