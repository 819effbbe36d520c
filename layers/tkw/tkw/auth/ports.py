"""The storage port of the API-M emulation; ``tkw.adapters.auth_store`` implements it on DynamoDB.

Every read treats an item whose ``expires_at`` is at or before ``now`` as absent: DynamoDB's TTL
deletes lazily (and moto never does), so expiry is enforced by the readers, not by the table.
"""

from __future__ import annotations

from typing import Protocol

from tkw.auth.models import AppRecord, TokenRecord


class AuthStore(Protocol):
    def get_app(self, api_key: str, now: float) -> AppRecord | None:
        """The application registered under ``api_key`` with all its keys, or None."""
        ...

    def app_exists(self, api_key: str, now: float) -> bool:
        """Cheaper than :meth:`get_app` when only existence matters (every bearer check)."""
        ...

    def put_app(self, app: AppRecord) -> None:
        """Create or replace an application and its keys (keys not in ``app`` are removed)."""
        ...

    def delete_app(self, api_key: str) -> bool:
        """Remove an application and its keys; True when it existed. Its tokens stop working."""
        ...

    def put_jti_if_absent(self, api_key: str, jti: str, expires_at: int, now: float) -> bool:
        """Record a client assertion's ``jti``; False when the application already used it.

        Atomic: of two concurrent requests with the same (api_key, jti) exactly one gets True.
        """
        ...

    def put_token(self, token: TokenRecord) -> None: ...

    def get_token(self, token_hash: str, now: float) -> TokenRecord | None: ...
