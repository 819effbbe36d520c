"""require_bearer: the BaRS proxy's token check (401 SEND_UNAUTHORIZED unknown / security)."""

from __future__ import annotations

import json

import pytest
from unit.auth.auth_support import (
    API_KEY,
    KID,
    NOW,
    OTHER_API_KEY,
    bars_request,
    claims,
    form,
    register,
    sign,
    token_request,
)

from tkw.auth.bearer import NO_TOKEN, require_bearer
from tkw.auth.memory import MemoryAuthStore
from tkw.auth.models import TOKEN_LIFETIME_SECONDS
from tkw.auth.token_endpoint import issue_token
from tkw.fhir.outcome import HTTP_ERROR_CODES_SYSTEM, BarsError


@pytest.fixture
def store() -> MemoryAuthStore:
    memory = MemoryAuthStore()
    register(memory)
    return memory


def get_token(store: MemoryAuthStore, now: float = NOW, api_key: str = API_KEY, key: str = "a", kid: str = KID) -> str:
    response = issue_token(token_request(form(sign(claims(now, api_key=api_key), key=key, kid=kid))), store, now)
    assert response.status == 200, response.body_text()
    return str(json.loads(response.body_text())["access_token"])


def refused(store: MemoryAuthStore, authorization: str | None, now: float = NOW) -> BarsError:
    with pytest.raises(BarsError) as caught:
        require_bearer(bars_request(authorization), store, now)
    err = caught.value
    assert err.status == 401
    (issue,) = err.issues
    assert issue.bars_code == "SEND_UNAUTHORIZED"
    assert issue.location == ("http.Authorization",)
    outcome = err.outcome()
    assert outcome["issue"][0]["details"]["coding"][0]["system"] == HTTP_ERROR_CODES_SYSTEM
    return err


def test_a_valid_token_is_admitted(store: MemoryAuthStore) -> None:
    token = get_token(store)
    record = require_bearer(bars_request(f"Bearer {token}"), store, NOW + 10)
    assert (record.api_key, record.kid, record.app_name) == (API_KEY, KID, "Test app")
    # The scheme is case-insensitive, as in HTTP.
    assert require_bearer(bars_request(f"bearer {token}"), store, NOW + 10).api_key == API_KEY


@pytest.mark.parametrize("authorization", [None, "", "   ", "Bearer", "Bearer   "])
def test_no_token_is_unknown(store: MemoryAuthStore, authorization: str | None) -> None:
    err = refused(store, authorization)
    assert err.issues[0].code == "unknown"
    assert err.issues[0].diagnostics == NO_TOKEN == "No Access token was provided."


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-token-we-issued", "Basic dXNlcjpwYXNz", "Sr5PGv19wTEHJdDr2wx2f7IGd0cw", "Bearer a b"],
)
def test_invalid_token_is_security(store: MemoryAuthStore, authorization: str) -> None:
    err = refused(store, authorization)
    assert err.issues[0].code == "security"
    assert "a b" not in err.issues[0].diagnostics
    assert "Sr5PGv19" not in err.issues[0].diagnostics


def test_an_expired_access_token_is_security(store: MemoryAuthStore) -> None:
    token = get_token(store)
    require_bearer(bars_request(f"Bearer {token}"), store, NOW + TOKEN_LIFETIME_SECONDS - 1)
    err = refused(store, f"Bearer {token}", now=NOW + TOKEN_LIFETIME_SECONDS + 1)
    assert err.issues[0].code == "security"
    assert "expired" in err.issues[0].diagnostics
    assert token not in err.issues[0].diagnostics


def test_tokens_of_a_removed_app_stop_working(store: MemoryAuthStore) -> None:
    register(store, api_key=OTHER_API_KEY, kid="Other-INT-1", key="b")
    mine = get_token(store)
    theirs = get_token(store, api_key=OTHER_API_KEY, key="b", kid="Other-INT-1")
    assert store.delete_app(OTHER_API_KEY)
    err = refused(store, f"Bearer {theirs}")
    assert err.issues[0].code == "security" and "removed" in err.issues[0].diagnostics
    assert require_bearer(bars_request(f"Bearer {mine}"), store, NOW).api_key == API_KEY
