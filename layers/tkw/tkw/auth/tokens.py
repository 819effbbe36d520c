"""Opaque access tokens and API keys: generated from ``secrets``, stored only as SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets
import string
import uuid

_ALPHANUMERIC = string.ascii_letters + string.digits


def _random_alphanumeric(length: int) -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def new_access_token() -> str:
    """28 alphanumerics (~166 bits), the shape of API-M's tokens (e.g. 'Sr5PGv19wTEHJdDr2wx2f7IGd0cw')."""
    return _random_alphanumeric(28)


def new_api_key() -> str:
    """32 alphanumerics, the shape of an API-M developer-portal API key."""
    return _random_alphanumeric(32)


def hash_token(token: str) -> str:
    """The storage key of a token: its SHA-256, hex. The token itself is never stored or logged."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def new_message_id() -> str:
    """A unique id for one token-endpoint interaction (API-M's ``message_id``, e.g. 'rrt-...')."""
    return f"rrt-tkw-{uuid.uuid4()}"
