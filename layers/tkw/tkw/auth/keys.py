"""Public keys of registered applications: PEM or JWKS in, RSA public keys (PEM) out.

API-M verifies client assertions with RS512, so only RSA public keys are accepted; NHS England
asks for 4096-bit keys, anything under 2048 bits is refused. A private key sent by mistake is
refused with a message that says so (and is never stored or echoed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from tkw.auth.models import AppKey

MIN_RSA_BITS = 2048
RECOMMENDED_RSA_BITS = 4096
MAX_KEYS_PER_APP = 20
# A kid is free text in API-M; we only refuse what cannot be a sensible identifier.
_KID = re.compile(r"^[\x21-\x7e]{1,128}$")
# <Supplier>-<Environment>-<rotation>, e.g. MySupplier-INT-1 (seed "Onboarding").
KID_CONVENTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]*-[A-Za-z0-9]+-\d+$")
_PRIVATE_MARKER = "PRIVATE KEY"


class KeyMaterialError(ValueError):
    """The submitted key cannot be registered; the message tells the user why."""


def check_kid(kid: object) -> str:
    if not isinstance(kid, str) or not _KID.match(kid):
        raise KeyMaterialError(
            "kid must be 1 to 128 printable ASCII characters without spaces, e.g. 'MySupplier-INT-1'"
        )
    return kid


def kid_follows_convention(kid: str) -> bool:
    return bool(KID_CONVENTION.match(kid))


def public_pem(key: RSAPublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def _checked_rsa(key: object, where: str) -> tuple[RSAPublicKey, list[str]]:
    if not isinstance(key, RSAPublicKey):
        raise KeyMaterialError(f"{where} is not an RSA public key; API-M signs client assertions with RS512 (RSA)")
    if key.key_size < MIN_RSA_BITS:
        raise KeyMaterialError(
            f"{where} is a {key.key_size}-bit RSA key; at least {MIN_RSA_BITS} bits are required "
            f"(NHS England asks for {RECOMMENDED_RSA_BITS})"
        )
    warnings = []
    if key.key_size < RECOMMENDED_RSA_BITS:
        warnings.append(
            f"{where} is a {key.key_size}-bit RSA key; NHS England asks for {RECOMMENDED_RSA_BITS}-bit keys"
        )
    return key, warnings


def pem_to_public_key(text: str) -> tuple[str, list[str]]:
    """A PEM public key (SPKI or PKCS#1) → normalised SPKI PEM and warnings."""
    if _PRIVATE_MARKER in text:
        raise KeyMaterialError(
            "public_key_pem holds a PRIVATE key: never send your private key anywhere; "
            "send the public half (e.g. `openssl rsa -in private.pem -pubout`) and generate a new key pair"
        )
    try:
        loaded = serialization.load_pem_public_key(text.strip().encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError):
        raise KeyMaterialError(
            "public_key_pem is not a PEM-encoded public key ('-----BEGIN PUBLIC KEY-----' ...)"
        ) from None
    key, warnings = _checked_rsa(loaded, "public_key_pem")
    return public_pem(key), warnings


def keys_from_jwks(jwks: Mapping[str, Any], only_kid: str | None = None) -> tuple[list[AppKey], list[str]]:
    """The RSA signing keys of a JWKS (``{"keys": [...]}``), each with its own ``kid``."""
    import jwt  # pyjwt: parses RSA JWKs into cryptography keys

    raw_keys = jwks.get("keys")
    if not isinstance(raw_keys, list) or not raw_keys:
        raise KeyMaterialError("jwks must be a JSON Web Key Set: an object with a non-empty 'keys' list")
    keys: list[AppKey] = []
    warnings: list[str] = []
    for index, jwk in enumerate(raw_keys):
        where = f"jwks.keys[{index}]"
        if not isinstance(jwk, dict):
            raise KeyMaterialError(f"{where} is not a JSON object")
        if any(private in jwk for private in ("d", "p", "q", "dp", "dq", "qi")):
            raise KeyMaterialError(
                f"{where} holds PRIVATE key parameters: never send your private key anywhere; "
                "publish only the public parameters (kty, kid, n, e) and generate a new key pair"
            )
        if jwk.get("kty") != "RSA":
            raise KeyMaterialError(f"{where} has kty {jwk.get('kty')!r}; only RSA keys (kty 'RSA') can verify RS512")
        kid = check_kid(jwk.get("kid"))
        if only_kid is not None and kid != only_kid:
            continue
        if jwk.get("alg") not in (None, "RS512"):
            warnings.append(f"{where} declares alg {jwk.get('alg')!r}; API-M client assertions use RS512")
        if jwk.get("use") not in (None, "sig"):
            warnings.append(f"{where} declares use {jwk.get('use')!r}; a signing key should say 'sig'")
        try:
            parsed = jwt.PyJWK.from_dict({k: v for k, v in jwk.items() if k != "alg"}, algorithm="RS512")
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            raise KeyMaterialError(f"{where} is not a valid RSA JWK (n and e must be base64url integers)") from None
        key, key_warnings = _checked_rsa(parsed.key, where)
        warnings.extend(key_warnings)
        keys.append(AppKey(kid=kid, public_key_pem=public_pem(key)))
    if only_kid is not None and not keys:
        raise KeyMaterialError(f"jwks has no key with kid {only_kid!r}")
    if len({k.kid for k in keys}) != len(keys):
        raise KeyMaterialError("jwks has two keys with the same kid")
    if len(keys) > MAX_KEYS_PER_APP:
        raise KeyMaterialError(f"at most {MAX_KEYS_PER_APP} keys can be registered for one application")
    return keys, warnings


@lru_cache(maxsize=256)
def load_public_key(pem: str) -> RSAPublicKey:
    """A stored (already validated) PEM as a key object, cached: verification runs on every token request."""
    key = serialization.load_pem_public_key(pem.encode("ascii"))
    if not isinstance(key, RSAPublicKey):  # pragma: no cover - registration only stores RSA keys
        raise KeyMaterialError("stored key is not an RSA public key")
    return key
