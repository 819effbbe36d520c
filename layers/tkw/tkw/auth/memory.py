"""An in-memory :class:`~tkw.auth.ports.AuthStore`: unit tests and single-process tools."""

from __future__ import annotations

import threading

from tkw.auth.models import AppRecord, TokenRecord


class MemoryAuthStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.apps: dict[str, AppRecord] = {}
        self.jtis: dict[tuple[str, str], int] = {}
        self.tokens: dict[str, TokenRecord] = {}

    def get_app(self, api_key: str, now: float) -> AppRecord | None:
        app = self.apps.get(api_key)
        if app is None or (app.expires_at is not None and app.expires_at <= now):
            return None
        return app

    def app_exists(self, api_key: str, now: float) -> bool:
        return self.get_app(api_key, now) is not None

    def put_app(self, app: AppRecord) -> None:
        with self._lock:
            self.apps[app.api_key] = app

    def delete_app(self, api_key: str) -> bool:
        with self._lock:
            return self.apps.pop(api_key, None) is not None

    def put_jti_if_absent(self, api_key: str, jti: str, expires_at: int, now: float) -> bool:
        with self._lock:
            held = self.jtis.get((api_key, jti))
            if held is not None and held > now:
                return False
            self.jtis[(api_key, jti)] = expires_at
            return True

    def put_token(self, token: TokenRecord) -> None:
        with self._lock:
            self.tokens[token.token_hash] = token

    def get_token(self, token_hash: str, now: float) -> TokenRecord | None:
        token = self.tokens.get(token_hash)
        if token is None or token.expires_at <= now:
            return None
        return token
