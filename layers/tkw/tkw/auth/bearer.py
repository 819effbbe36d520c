"""The BaRS proxy's token check (BARS-API.md §4 step 2), in ``int`` auth mode.

No token, or an empty one → 401 SEND_UNAUTHORIZED ``unknown`` "No Access token was provided.";
any other problem (not a Bearer credential, unknown, expired, or its application removed) →
401 SEND_UNAUTHORIZED ``security``. Diagnostics never contain the token.
"""

from __future__ import annotations

from tkw.auth.models import TOKEN_LIFETIME_SECONDS, TokenRecord
from tkw.auth.ports import AuthStore
from tkw.auth.tokens import hash_token
from tkw.fhir.outcome import BarsError
from tkw.http import ApiRequest

NO_TOKEN = "No Access token was provided."  # noqa: S105 - a message
_MAX_TOKEN_CHARS = 4096


def _unauthorized(code: str, diagnostics: str) -> BarsError:
    return BarsError.of(401, "SEND_UNAUTHORIZED", code, diagnostics, header="Authorization")


def _invalid(why: str) -> BarsError:
    return _unauthorized("security", f"The access token was invalid: {why}")


def require_bearer(request: ApiRequest, store: AuthStore, now: float) -> TokenRecord:
    """The stored record of the request's valid bearer token; raises :class:`BarsError` (401) otherwise."""
    value = (request.header("Authorization") or "").strip()
    if not value:
        raise _unauthorized("unknown", NO_TOKEN)
    scheme, _, credentials = value.partition(" ")
    if scheme.lower() != "bearer":
        raise _invalid("the Authorization header must be 'Bearer <access token>' (the token from POST /oauth2/token).")
    token = credentials.strip()
    if not token:
        raise _unauthorized("unknown", NO_TOKEN)
    if len(token) > _MAX_TOKEN_CHARS or any(c.isspace() for c in token):
        raise _invalid("it is not an access token issued by POST /oauth2/token.")
    record = store.get_token(hash_token(token), now)
    if record is None:
        raise _invalid(
            f"it is unknown or has expired (access tokens last {TOKEN_LIFETIME_SECONDS} seconds); "
            "get a new one from POST /oauth2/token."
        )
    if not store.app_exists(record.api_key, now):
        raise _invalid("the application it was issued to has been removed.")
    return record
