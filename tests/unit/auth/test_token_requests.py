"""POST /oauth2/token over the in-memory store: API-M's answers, jti replay, what is (not) stored."""

from __future__ import annotations

import json
import threading
import urllib.parse
from dataclasses import asdict

import pytest
from unit.auth.auth_support import (
    API_KEY,
    ATTACKS,
    AUDIENCE,
    KID,
    NOW,
    claims,
    form,
    register,
    sign,
    token_request,
)

from tkw.auth.memory import MemoryAuthStore
from tkw.auth.models import TOKEN_LIFETIME_SECONDS, TokenRecord
from tkw.auth.token_endpoint import handle_token_request, issue_token, parse_form, token_url
from tkw.auth.tokens import hash_token


@pytest.fixture
def store() -> MemoryAuthStore:
    memory = MemoryAuthStore()
    register(memory)
    return memory


def body(response) -> dict:
    return json.loads(response.body_text())


def test_success_answers_like_api_m(store: MemoryAuthStore) -> None:
    response = issue_token(token_request(form(sign(claims()))), store, NOW)
    assert response.status == 200
    assert response.content_type == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    answer = body(response)
    assert set(answer) == {"access_token", "expires_in", "token_type", "issued_at"}
    assert answer["expires_in"] == "599" and answer["token_type"] == "Bearer"
    assert answer["issued_at"] == str(int(NOW * 1000))
    assert answer["access_token"].isalnum() and len(answer["access_token"]) == 28


def test_only_the_hash_of_the_token_is_stored(store: MemoryAuthStore) -> None:
    result = handle_token_request(token_request(form(sign(claims()))), store, NOW)
    token = body(result.response)["access_token"]
    assert result.issued and result.token is not None
    assert list(store.tokens) == [hash_token(token)]
    record = store.tokens[hash_token(token)]
    assert (record.api_key, record.kid) == (API_KEY, KID)
    assert record.expires_at == int(NOW) + TOKEN_LIFETIME_SECONDS
    assert token not in json.dumps(asdict(record))


def test_result_exposes_the_checks_for_the_report(store: MemoryAuthStore) -> None:
    result = handle_token_request(token_request(form(sign(claims()))), store, NOW)
    ids = [c.id for c in result.checks]
    assert ids[-1] == "claim.jti.unique"
    assert all(c.passed for c in result.checks if c.severity == "error")
    assert result.errors == []
    assert (result.api_key, result.kid, result.audience) == (API_KEY, KID, AUDIENCE)
    assert result.message_id.startswith("rrt-")


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_is_refused_and_nothing_is_issued(store: MemoryAuthStore, name: str) -> None:
    build, check_id, status, error, description = ATTACKS[name]
    result = handle_token_request(token_request(build(NOW)), store, NOW)
    assert result.response.status == status, name
    answer = body(result.response)
    assert set(answer) == {"error", "error_description", "message_id"}
    assert answer["error"] == error
    assert answer["error_description"].startswith(description)
    assert answer["message_id"] == result.message_id
    assert check_id in {c.id for c in result.errors}
    assert not result.issued and store.tokens == {}
    assert store.jtis == {}, "a refused request must not burn its jti"


def test_replayed_jti_is_refused(store: MemoryAuthStore) -> None:
    assertion = sign(claims())
    assert issue_token(token_request(form(assertion)), store, NOW).status == 200
    replay = handle_token_request(token_request(form(assertion)), store, NOW + 1)
    assert replay.response.status == 400
    assert body(replay.response)["error_description"] == "Non-unique 'jti' claim in client_assertion JWT"
    assert [c.id for c in replay.errors] == ["claim.jti.unique"]
    assert len(store.tokens) == 1


def test_concurrent_replays_get_one_token(store: MemoryAuthStore) -> None:
    assertion = sign(claims())
    contenders = 8
    barrier = threading.Barrier(contenders)
    statuses: list[int] = []
    lock = threading.Lock()

    def attempt() -> None:
        barrier.wait()
        status = issue_token(token_request(form(assertion)), store, NOW).status
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=attempt) for _ in range(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [400] * (contenders - 1)
    assert len(store.tokens) == 1


def test_same_jti_in_a_new_assertion_is_still_a_replay(store: MemoryAuthStore) -> None:
    jti = "b7ae4c12-3c04-465a-8877-c2e80f0126a3"
    assert issue_token(token_request(form(sign(claims(jti=jti)))), store, NOW).status == 200
    again = issue_token(token_request(form(sign(claims(NOW + 60, jti=jti)))), store, NOW + 60)
    assert again.status == 400


def test_a_jti_is_per_application(store: MemoryAuthStore) -> None:
    other = "Zq7cTkW3mN9pXb2LrV5sHd8JfG4aYe61"
    register(store, api_key=other, kid="Other-INT-1", key="b")
    jti = "5d0a8b2e-0a3e-4a5e-9d1c-7b7c1e7f4a10"
    assert issue_token(token_request(form(sign(claims(jti=jti)))), store, NOW).status == 200
    other_assertion = sign(claims(api_key=other, jti=jti), key="b", kid="Other-INT-1")
    assert issue_token(token_request(form(other_assertion)), store, NOW).status == 200


def test_a_refused_request_does_not_burn_its_jti(store: MemoryAuthStore) -> None:
    jti = "0f8fad5b-d9cb-469f-a165-70867728950e"
    bad = issue_token(token_request(form(sign(claims(jti=jti, aud="https://wrong.example/oauth2/token")))), store, NOW)
    assert bad.status == 401
    assert issue_token(token_request(form(sign(claims(jti=jti)))), store, NOW).status == 200


def test_audience_is_this_endpoint_on_any_host(store: MemoryAuthStore) -> None:
    base = "https://abc123.execute-api.eu-west-2.amazonaws.com/v1"
    request = token_request(form(sign(claims(aud=base + "/oauth2/token"))), base_url=base)
    assert token_url(request) == base + "/oauth2/token"
    assert issue_token(request, store, NOW).status == 200


def test_a_json_body_is_not_a_form(store: MemoryAuthStore) -> None:
    fields = form(sign(claims()))
    result = handle_token_request(
        token_request(body=json.dumps(fields).encode(), content_type="application/json"), store, NOW
    )
    assert result.response.status == 400
    assert body(result.response)["error_description"] == "grant_type is missing"
    assert any(c.id == "form.content_type" and not c.passed for c in result.checks)


@pytest.mark.parametrize("raw", [None, b"", b"\xff\xfe", b"a=1&" * 100])
def test_unreadable_forms_are_empty(raw: bytes | None) -> None:
    assert parse_form(raw) == {}


def test_form_keeps_the_first_of_repeated_fields() -> None:
    raw = urllib.parse.urlencode([("grant_type", "client_credentials"), ("grant_type", "password")]).encode()
    assert parse_form(raw) == {"grant_type": "client_credentials"}


def test_a_removed_app_gets_no_token(store: MemoryAuthStore) -> None:
    store.delete_app(API_KEY)
    response = issue_token(token_request(form(sign(claims()))), store, NOW)
    assert response.status == 401
    assert body(response)["error_description"] == "Invalid 'iss'/'sub' claims in client_assertion JWT"


def test_a_token_record_holds_only_the_tokens_sha256() -> None:
    fields = {"api_key": API_KEY, "kid": KID, "app_name": "app", "issued_at_ms": 0, "expires_at": 599}
    assert TokenRecord(token_hash=hash_token("an-opaque-token"), **fields).token_hash == hash_token("an-opaque-token")
    with pytest.raises(ValueError, match="hex SHA-256"):
        TokenRecord(token_hash="an-opaque-token", **fields)  # the token itself is never stored
