"""POST /oauth2/token: API-M's application-restricted (signed JWT) token endpoint, emulated.

The request is checked by :func:`tkw.auth.assertion.check_token_request` (status codes, error codes
and descriptions are tabled there); when every check passes, the assertion's ``jti`` is recorded
with a conditional write (a replay, even a concurrent one, loses) and an opaque access token is
issued, stored only as its SHA-256 with a TTL. Tokens and assertions are never logged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from tkw.auth.assertion import (
    NON_UNIQUE_JTI_DESCRIPTION,
    AssertionVerdict,
    Failure,
    check_token_request,
    invalid_request,
)
from tkw.auth.models import (
    JTI_RETENTION_SECONDS,
    TOKEN_LIFETIME_SECONDS,
    TOKEN_PATH,
    AssertionCheck,
    TokenRecord,
)
from tkw.auth.ports import AuthStore
from tkw.auth.responses import json_response, oauth_error
from tkw.auth.tokens import hash_token, new_access_token, new_message_id
from tkw.http import ApiRequest, ApiResponse

MAX_FORM_FIELDS = 50


@dataclass(slots=True)
class TokenResult:
    """One token request, answered: the response plus every check made (for the report writer)."""

    response: ApiResponse
    checks: list[AssertionCheck]
    message_id: str
    audience: str
    api_key: str | None = None  # the application, once identified (iss), even when rejected
    kid: str | None = None
    token: TokenRecord | None = None  # the issued token's record (hash only), on success
    errors: list[AssertionCheck] = field(default_factory=list)  # failed error checks, in API-M's order

    @property
    def issued(self) -> bool:
        return self.token is not None


def token_url(request: ApiRequest) -> str:
    """The audience a client assertion must name: this endpoint's full URL."""
    return request.base_url.rstrip("/") + TOKEN_PATH


def parse_form(body: bytes | None) -> dict[str, str]:
    """The first value of each field of an x-www-form-urlencoded body; {} when unreadable."""
    if not body:
        return {}
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        return {}
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


def handle_token_request(request: ApiRequest, store: AuthStore, now: float) -> TokenResult:
    message_id = new_message_id()
    audience = token_url(request)
    verdict = check_token_request(
        parse_form(request.body),
        audience=audience,
        now=now,
        find_app=lambda api_key: store.get_app(api_key, now),
        content_type=request.header("Content-Type"),
    )
    failure = verdict.failure
    if failure is None:
        failure = _claim_jti(verdict, store, now)
    else:
        verdict.skip("claim.jti.unique", "claim.jti", "the request failed an earlier check, so its jti was not used up")
    if failure is not None:
        return TokenResult(
            response=oauth_error(failure.status, failure.error, failure.description, message_id),
            checks=verdict.checks,
            message_id=message_id,
            audience=audience,
            api_key=verdict.app.api_key if verdict.app else None,
            kid=verdict.key.kid if verdict.key else None,
            errors=verdict.failed_checks,
        )

    if verdict.app is None or verdict.key is None:  # pragma: no cover - every error check passed
        raise RuntimeError("token request passed its checks without an application key")
    access_token = new_access_token()
    issued_at_ms = int(now * 1000)
    record = TokenRecord(
        token_hash=hash_token(access_token),
        api_key=verdict.app.api_key,
        kid=verdict.key.kid,
        app_name=verdict.app.name,
        ods_codes=verdict.app.ods_codes,
        issued_at_ms=issued_at_ms,
        expires_at=math.ceil(now) + TOKEN_LIFETIME_SECONDS,
    )
    store.put_token(record)
    return TokenResult(
        response=json_response(
            200,
            {
                "access_token": access_token,
                "expires_in": str(TOKEN_LIFETIME_SECONDS),
                "token_type": "Bearer",
                "issued_at": str(issued_at_ms),
            },
        ),
        checks=verdict.checks,
        message_id=message_id,
        audience=audience,
        api_key=record.api_key,
        kid=record.kid,
        token=record,
    )


def issue_token(request: ApiRequest, store: AuthStore, now: float) -> ApiResponse:
    """The token endpoint for a Lambda handler: the API-M answer only (see :func:`handle_token_request`)."""
    return handle_token_request(request, store, now).response


def _claim_jti(verdict: AssertionVerdict, store: AuthStore, now: float) -> Failure | None:
    """Record the jti, atomically; the failure when this application has used it before."""
    if verdict.app is None or verdict.jti is None or verdict.exp is None:  # pragma: no cover
        raise RuntimeError("jti claimed before the assertion's checks passed")
    expires_at = math.ceil(max(verdict.exp, now)) + JTI_RETENTION_SECONDS
    if store.put_jti_if_absent(verdict.app.api_key, verdict.jti, expires_at, now):
        verdict.add("claim.jti.unique", "claim.jti", True, "jti has not been used before by this application")
        return None
    verdict.add(
        "claim.jti.unique",
        "claim.jti",
        False,
        "this application already used this jti: every client assertion needs a new jti (a fresh UUID)",
        failure=invalid_request(NON_UNIQUE_JTI_DESCRIPTION),
    )
    return verdict.failure
