"""The API-M emulation over DynamoDB (moto): token endpoint, attack suite, bearer checks, /tkw/apps,
and the sender's client and CLI over real HTTP against a small server that calls the same functions."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from bars_support import ROOT
from unit.auth.auth_support import (
    API_KEY,
    ATTACKS,
    KID,
    NOW,
    OTHER_API_KEY,
    bars_request,
    claims,
    form,
    key_pair,
    register,
    sign,
    token_request,
)

from tkw import cli_auth
from tkw.adapters.auth_store import DynamoAuthStore, reset_auth_stores
from tkw.auth import client
from tkw.auth.apps import delete_app, get_app, register_app
from tkw.auth.bearer import require_bearer
from tkw.auth.models import TOKEN_LIFETIME_SECONDS
from tkw.auth.token_endpoint import handle_token_request, issue_token
from tkw.fhir.outcome import BarsError
from tkw.http import ApiRequest, ApiResponse
from tkw_local.backend import Resolver
from tkw_local.functions import LoadedFunction, load_function
from tkw_local.template import FunctionSpec


@pytest.fixture
def store(aws: Resolver) -> DynamoAuthStore:
    dynamo = DynamoAuthStore(str(aws.physical["StateTable"]))
    register(dynamo)
    return dynamo


def answer(response: ApiResponse) -> dict[str, Any]:
    return dict(json.loads(response.body_text()))


def bearer_of(response: ApiResponse) -> str:
    assert response.status == 200, response.body_text()
    return str(answer(response)["access_token"])


def refused(store: DynamoAuthStore, authorization: str | None, now: float) -> str:
    with pytest.raises(BarsError) as caught:
        require_bearer(bars_request(authorization), store, now)
    assert caught.value.status == 401
    assert caught.value.issues[0].bars_code == "SEND_UNAUTHORIZED"
    return caught.value.issues[0].code


def test_token_then_bearer(store: DynamoAuthStore) -> None:
    token = bearer_of(issue_token(token_request(form(sign(claims()))), store, NOW))
    record = require_bearer(bars_request(f"Bearer {token}"), store, NOW + 1)
    assert (record.api_key, record.kid) == (API_KEY, KID)


def test_every_attack_is_refused(store: DynamoAuthStore) -> None:
    # One test over one table (moto setup dominates); the unit suite has one test per attack.
    for name, (build, check_id, status, error, description) in ATTACKS.items():
        result = handle_token_request(token_request(build(NOW)), store, NOW)
        assert result.response.status == status, name
        data = answer(result.response)
        assert data["error"] == error and data["error_description"].startswith(description), name
        assert check_id in {c.id for c in result.errors}, name
        assert result.token is None, name
    # The application still gets a token afterwards.
    assert issue_token(token_request(form(sign(claims()))), store, NOW).status == 200


def test_replayed_jti_is_refused(store: DynamoAuthStore) -> None:
    assertion = sign(claims())
    assert issue_token(token_request(form(assertion)), store, NOW).status == 200
    replay = issue_token(token_request(form(assertion)), store, NOW + 2)
    assert replay.status == 400
    assert answer(replay)["error_description"] == "Non-unique 'jti' claim in client_assertion JWT"


def test_an_expired_access_token_is_refused(store: DynamoAuthStore) -> None:
    token = bearer_of(issue_token(token_request(form(sign(claims()))), store, NOW))
    require_bearer(bars_request(f"Bearer {token}"), store, NOW + TOKEN_LIFETIME_SECONDS - 1)
    assert refused(store, f"Bearer {token}", NOW + TOKEN_LIFETIME_SECONDS + 1) == "security"


def test_no_token_and_unknown_token(store: DynamoAuthStore) -> None:
    assert refused(store, None, NOW) == "unknown"
    assert refused(store, "Bearer ", NOW) == "unknown"
    assert refused(store, "Bearer Sr5PGv19wTEHJdDr2wx2f7IGd0cw", NOW) == "security"


def test_tokens_of_another_app_stop_after_its_removal(store: DynamoAuthStore) -> None:
    register(store, api_key=OTHER_API_KEY, kid="Other-INT-1", key="b")
    mine = bearer_of(issue_token(token_request(form(sign(claims()))), store, NOW))
    other_assertion = sign(claims(api_key=OTHER_API_KEY), key="b", kid="Other-INT-1")
    theirs = bearer_of(issue_token(token_request(form(other_assertion)), store, NOW))
    assert require_bearer(bars_request(f"Bearer {theirs}"), store, NOW).api_key == OTHER_API_KEY

    removal = delete_app(
        ApiRequest(method="DELETE", path=f"/tkw/apps/{OTHER_API_KEY}", path_params={"api_key": OTHER_API_KEY}),
        store,
        NOW,
    )
    assert removal.status == 204
    assert refused(store, f"Bearer {theirs}", NOW + 1) == "security"
    assert require_bearer(bars_request(f"Bearer {mine}"), store, NOW + 1).api_key == API_KEY
    # And it cannot get a new one.
    again = issue_token(
        token_request(form(sign(claims(api_key=OTHER_API_KEY), key="b", kid="Other-INT-1"))), store, NOW + 1
    )
    assert again.status == 401


def test_register_get_token_delete_over_the_store(store: DynamoAuthStore) -> None:
    created = register_app(
        ApiRequest(
            method="POST",
            path="/tkw/apps",
            base_url="http://127.0.0.1:3000",
            body=json.dumps(
                {
                    "name": "Registered",
                    "ods_codes": ["A1001"],
                    "kid": "Reg-INT-1",
                    "public_key_pem": key_pair("b").public_pem,
                }
            ).encode(),
        ),
        store,
        NOW,
    )
    assert created.status == 201, created.body_text()
    api_key = answer(created)["api_key"]
    shown = get_app(ApiRequest(method="GET", path=f"/tkw/apps/{api_key}", path_params={"api_key": api_key}), store, NOW)
    assert answer(shown)["kids"] == ["Reg-INT-1"] and "BEGIN" not in shown.body_text()
    token = bearer_of(
        issue_token(token_request(form(sign(claims(api_key=api_key), key="b", kid="Reg-INT-1"))), store, NOW)
    )
    assert require_bearer(bars_request(f"Bearer {token}"), store, NOW).app_name == "Registered"


# --- over HTTP: the sender's client and the CLI ------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    store: DynamoAuthStore
    base_url: str

    def _serve(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = ApiRequest(
            method=self.command,
            path=url.path,
            headers={k.lower(): (v,) for k, v in self.headers.items()},
            body=self.rfile.read(length) if length else None,
            base_url=self.base_url,
            path_params={"api_key": url.path.rsplit("/", 1)[-1]} if url.path.startswith("/tkw/apps/") else {},
        )
        now = time.time()
        if (self.command, url.path) == ("POST", "/oauth2/token"):
            response = issue_token(request, self.store, now)
        elif (self.command, url.path) == ("POST", "/tkw/apps"):
            response = register_app(request, self.store, now)
        elif url.path.startswith("/tkw/apps/"):
            response = (get_app if self.command == "GET" else delete_app)(request, self.store, now)
        else:
            try:
                record = require_bearer(request, self.store, now)
                response = ApiResponse(200, {"app": record.app_name}, content_type="application/json")
            except BarsError as err:
                response = ApiResponse(err.status, err.outcome())
        payload = response.body_text().encode()
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server(store: DynamoAuthStore) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    _Handler.store, _Handler.base_url = store, base_url
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield base_url
    finally:
        httpd.shutdown()
        httpd.server_close()


def _bars_get(base_url: str, token: str) -> int:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        base_url + "/booking-and-referral/FHIR/R4/Slot", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def test_client_registers_and_fetches_a_token_over_http(server: str) -> None:
    registered = client.register_app(server, "Over HTTP", "Http-INT-1", key_pair("b").public_pem, ["A1001"])
    api_key = registered["api_key"]
    assert registered["token_url"] == server + "/oauth2/token"
    token = client.fetch_token(key_pair("b").private_pem, "Http-INT-1", api_key, client.token_url_for(server))
    assert token.token_type == "Bearer" and token.expires_in == 599 and token.issued_at_ms
    assert _bars_get(server, token.access_token) == 200
    assert _bars_get(server, token.access_token + "x") == 401


def test_client_raises_api_m_errors(server: str) -> None:
    with pytest.raises(client.TokenRequestError) as caught:
        client.fetch_token(key_pair("b").private_pem, KID, API_KEY, client.token_url_for(server))
    err = caught.value
    assert (err.status, err.error, err.description) == (401, "public_key error", "JWT signature verification failed")
    assert err.message_id and err.message_id.startswith("rrt-")


def test_cli_register_then_token(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    private, public = tmp_path / "k.pem", tmp_path / "k.pub.pem"
    private.write_text(key_pair("b").private_pem)
    public.write_text(key_pair("b").public_pem)
    assert (
        cli_auth.main(
            [
                "register",
                "--url",
                server,
                "--name",
                "CLI app",
                "--kid",
                "Cli-INT-1",
                "--public-key",
                str(public),
                "--ods-code",
                "a1001",
                "--ods-code",
                "B2002",
            ]
        )
        == 0
    )
    registered = json.loads(capsys.readouterr().out)
    assert registered["ods_codes"] == ["A1001", "B2002"]  # ODS codes are upper case
    api_key = registered["api_key"]

    monkeypatch.setenv("TKW_URL", server)
    monkeypatch.setenv("TKW_API_KEY", api_key)
    monkeypatch.setenv("TKW_KID", "Cli-INT-1")
    monkeypatch.setenv("TKW_PRIVATE_KEY", str(private))
    assert cli_auth.main(["token"]) == 0
    token = capsys.readouterr().out.strip()
    assert _bars_get(server, token) == 200

    assert cli_auth.main(["token", "--kid", "Cli-INT-9"]) == 1
    assert "no matching public key" in capsys.readouterr().err


# --- the Lambda handlers (functions/token, functions/apps), invoked with REST v1 events ------------


def _handler(code_uri: str, logical_id: str) -> LoadedFunction:
    # Loaded directly: the template gains TokenFunction / AppsFunction when the lead wires them.
    spec = FunctionSpec(logical_id=logical_id, code_uri=code_uri, handler="app.handler", layers=["layers/tkw"])
    return load_function(ROOT, spec)


def _event(
    method: str,
    path: str,
    resource: str,
    body: str | None = None,
    content_type: str | None = None,
    path_params: dict[str, str] | None = None,
) -> dict[str, Any]:
    headers = {"Host": "127.0.0.1:3000", "X-Forwarded-Proto": "http"}
    if content_type:
        headers["Content-Type"] = content_type
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_params,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "127.0.0.1:3000",
            "httpMethod": method,
            "identity": {"sourceIp": "127.0.0.1"},
            "path": f"/v1{path}",
            "protocol": "HTTP/1.1",
            "requestId": "00000000-0000-0000-0000-00000000000a",
            "requestTimeEpoch": 1764000000000,
            "resourceId": "local",
            "resourcePath": resource,
            "stage": "v1",
        },
        "body": body,
        "isBase64Encoded": False,
    }


def test_handlers_register_issue_read_and_delete(aws: Resolver) -> None:
    apps_fn = _handler("functions/apps", "AppsFunction")
    token_fn = _handler("functions/token", "TokenFunction")
    reset_auth_stores()
    try:
        created = apps_fn.invoke(
            _event(
                "POST",
                "/tkw/apps",
                "/tkw/apps",
                content_type="application/json",
                body=json.dumps(
                    {
                        "name": "Lambda app",
                        "ods_codes": ["A1001"],
                        "kid": "Lambda-INT-1",
                        "public_key_pem": key_pair("b").public_pem,
                    }
                ),
            )
        )
        assert created["statusCode"] == 201, created["body"]
        api_key = json.loads(created["body"])["api_key"]

        audience = "http://127.0.0.1:3000/oauth2/token"
        assertion = client.mint_client_assertion(key_pair("b").private_pem, "Lambda-INT-1", api_key, audience)
        form_event = _event(
            "POST",
            "/oauth2/token",
            "/oauth2/token",
            body=client.token_form(assertion).decode(),
            content_type="application/x-www-form-urlencoded",
        )
        issued = token_fn.invoke(form_event)
        assert issued["statusCode"] == 200, issued["body"]
        assert json.loads(issued["body"])["token_type"] == "Bearer"

        replay = token_fn.invoke(form_event)
        assert replay["statusCode"] == 400
        assert json.loads(replay["body"])["error_description"] == "Non-unique 'jti' claim in client_assertion JWT"

        path = f"/tkw/apps/{api_key}"
        shown = apps_fn.invoke(_event("GET", path, "/tkw/apps/{api_key}", path_params={"api_key": api_key}))
        assert shown["statusCode"] == 200 and json.loads(shown["body"])["kids"] == ["Lambda-INT-1"]
        removed = apps_fn.invoke(_event("DELETE", path, "/tkw/apps/{api_key}", path_params={"api_key": api_key}))
        assert removed["statusCode"] == 204
        gone = apps_fn.invoke(_event("GET", path, "/tkw/apps/{api_key}", path_params={"api_key": api_key}))
        assert gone["statusCode"] == 404
    finally:
        reset_auth_stores()
