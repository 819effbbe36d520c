"""Applications: the emulator's stand-in for the API-M developer portal plus the key-registration email.

``POST /tkw/apps`` with ``{"name", "ods_codes": [...], "kid", "public_key_pem"}`` (or ``"jwks":
{"keys": [...]}`` in place of the PEM, optionally with ``kid`` to pick one key) → 201 ``{"api_key",
...}``. ``GET`` and ``DELETE /tkw/apps/{api_key}`` read and remove one; removal stops its tokens
working at once. ``ods_codes`` (at least one) names the organisations the application acts for: in
int mode its tokens read and change only their data (:mod:`tkw.access`). Registered apps expire
after :data:`APP_TTL_SECONDS`; apps from the seed file (``TKW_APPS_FILE``: a JSON list of the same
objects, each with a fixed ``api_key``, and ``public_key_file`` allowed in place of the PEM) never
expire and are written again whenever a process starts.

These endpoints carry no authentication, like the rest of the emulator: anyone who knows an API key
can delete its app. Never register a key pair that is used anywhere real.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tkw.auth.keys import (
    MAX_KEYS_PER_APP,
    KeyMaterialError,
    check_kid,
    keys_from_jwks,
    kid_follows_convention,
    pem_to_public_key,
)
from tkw.auth.models import TOKEN_PATH, AppKey, AppRecord
from tkw.auth.ports import AuthStore
from tkw.auth.responses import json_response, oauth_error
from tkw.auth.tokens import new_api_key, new_message_id
from tkw.encoded_headers import ODS_CODE
from tkw.http import ApiRequest, ApiResponse

APP_TTL_SECONDS = 30 * 24 * 3600
APPS_FILE_ENV = "TKW_APPS_FILE"
APPS_PATH = "/tkw/apps"
API_KEY_PATTERN = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
MAX_BODY_BYTES = 64 * 1024
MAX_ODS_CODES = 20


class RegistrationError(ValueError):
    """A registration that cannot be accepted; the message says what to change."""


class AppRegistration(BaseModel):
    """The body of POST /tkw/apps, and one entry of the seed file."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    # The organisations it acts for; upper-cased, duplicates dropped.
    ods_codes: list[str] = Field(min_length=1, max_length=MAX_ODS_CODES)
    kid: str | None = None
    public_key_pem: str | None = None
    jwks: dict[str, Any] | None = None
    # Seed file only:
    api_key: str | None = None
    public_key_file: str | None = None

    @field_validator("ods_codes")
    @classmethod
    def _ods_codes(cls, codes: list[str]) -> list[str]:
        cleaned: list[str] = []
        for code in codes:
            ods = code.strip().upper()
            if not ODS_CODE.match(ods):
                raise ValueError(f"{code[:40]!r} is not an ODS code (letters and digits, e.g. 'A1001')")
            if ods not in cleaned:
                cleaned.append(ods)
        return cleaned


def resolve_keys(registration: AppRegistration, base_dir: Path | None = None) -> tuple[list[AppKey], list[str]]:
    """The public keys a registration names, validated, with warnings for the sender."""
    sources = [s for s in ("public_key_pem", "jwks", "public_key_file") if getattr(registration, s) is not None]
    if len(sources) != 1:
        raise RegistrationError(
            "send exactly one of public_key_pem (with kid) or jwks"
            + ("" if base_dir is None else " or public_key_file (with kid)")
            + (f"; got {' and '.join(sources)}" if sources else "")
        )
    try:
        if registration.jwks is not None:
            kid = check_kid(registration.kid) if registration.kid is not None else None
            keys, warnings = keys_from_jwks(registration.jwks, kid)
        else:
            if registration.kid is None:
                raise RegistrationError("kid is required with a PEM public key, e.g. 'MySupplier-INT-1'")
            kid = check_kid(registration.kid)
            if registration.public_key_file is not None:
                if base_dir is None:
                    raise RegistrationError("public_key_file is only allowed in the seed file")
                pem_text = (base_dir / registration.public_key_file).read_text(encoding="ascii")
            else:
                assert registration.public_key_pem is not None
                pem_text = registration.public_key_pem
            pem, warnings = pem_to_public_key(pem_text)
            keys = [AppKey(kid=kid, public_key_pem=pem)]
    except KeyMaterialError as err:
        raise RegistrationError(str(err)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise RegistrationError(f"public_key_file cannot be read: {err.__class__.__name__}") from None
    if len(keys) > MAX_KEYS_PER_APP:
        raise RegistrationError(f"at most {MAX_KEYS_PER_APP} keys can be registered for one application")
    warnings.extend(
        f"kid {k.kid!r} does not follow the onboarding convention <Supplier>-<Environment>-<rotation>, "
        "e.g. 'MySupplier-INT-1'"
        for k in keys
        if not kid_follows_convention(k.kid)
    )
    return keys, warnings


def parse_registration(data: object) -> AppRegistration:
    if not isinstance(data, Mapping):
        raise RegistrationError(
            'the body must be a JSON object: {"name": ..., "ods_codes": [...], "kid": ..., "public_key_pem": ...}'
        )
    try:
        return AppRegistration.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in err.errors(include_url=False)
        )
        raise RegistrationError(problems) from None


def new_app(
    registration: AppRegistration, now: float, ttl_seconds: int | None = APP_TTL_SECONDS
) -> tuple[AppRecord, list[str]]:
    """A freshly registered application (new API key) from a POST body."""
    if registration.api_key is not None:
        raise RegistrationError("api_key is assigned by the emulator; leave it out (only the seed file may fix it)")
    if registration.public_key_file is not None:
        raise RegistrationError("public_key_file is only allowed in the seed file; send public_key_pem")
    keys, warnings = resolve_keys(registration)
    app = AppRecord(
        api_key=new_api_key(),
        name=registration.name,
        keys=tuple(keys),
        ods_codes=tuple(registration.ods_codes),
        created_at=int(now),
        expires_at=int(now) + ttl_seconds if ttl_seconds else None,
    )
    return app, warnings


# --- HTTP: /tkw/apps -------------------------------------------------------------------------


def register_app(request: ApiRequest, store: AuthStore, now: float) -> ApiResponse:
    """POST /tkw/apps → 201 with the new API key, or 400 saying what to fix."""
    message_id = new_message_id()
    try:
        if request.body is not None and len(request.body) > MAX_BODY_BYTES:
            raise RegistrationError(f"the body is larger than {MAX_BODY_BYTES} bytes")
        try:
            data = json.loads(request.body or b"")
        except (ValueError, RecursionError):
            raise RegistrationError("the body is not JSON") from None
        app, warnings = new_app(parse_registration(data), now)
    except RegistrationError as err:
        return oauth_error(400, "invalid_request", str(err), message_id)
    store.put_app(app)
    base = request.base_url.rstrip("/")
    return json_response(
        201,
        {**app.public_view(), "token_url": base + TOKEN_PATH, "warnings": warnings, "message_id": message_id},
        headers={"Location": f"{base}{APPS_PATH}/{app.api_key}"},
    )


def _api_key_of(request: ApiRequest) -> str:
    return request.path_params.get("api_key") or request.path.rstrip("/").rsplit("/", 1)[-1]


def _not_found(message_id: str) -> ApiResponse:
    return oauth_error(404, "not_found", "No application is registered under this API key.", message_id)


def get_app(request: ApiRequest, store: AuthStore, now: float) -> ApiResponse:
    """GET /tkw/apps/{api_key} → 200 with the name and kids (no key material), or 404."""
    api_key = _api_key_of(request)
    app = store.get_app(api_key, now) if API_KEY_PATTERN.match(api_key) else None
    if app is None:
        return _not_found(new_message_id())
    return json_response(200, app.public_view())


def delete_app(request: ApiRequest, store: AuthStore, now: float) -> ApiResponse:
    """DELETE /tkw/apps/{api_key} → 204; its access tokens stop working at once. 404 when unknown."""
    api_key = _api_key_of(request)
    if not API_KEY_PATTERN.match(api_key) or not store.delete_app(api_key):
        return _not_found(new_message_id())
    return json_response(204, None)


# --- the seed file -----------------------------------------------------------------------------


def load_apps_file(path: str | Path, now: float) -> list[AppRecord]:
    """Applications from a seed file: a JSON list of registrations, each with a fixed ``api_key``."""
    path = Path(path)
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise RegistrationError(f"{path}: cannot read a JSON list of applications ({err})") from None
    if not isinstance(entries, list):
        raise RegistrationError(f"{path}: must hold a JSON list of applications")
    apps: list[AppRecord] = []
    for index, entry in enumerate(entries):
        try:
            registration = parse_registration(entry)
            if not registration.api_key or not API_KEY_PATTERN.match(registration.api_key):
                raise RegistrationError("api_key is required: 1 to 128 of A-Z a-z 0-9 . _ ~ -")
            keys, _ = resolve_keys(registration, base_dir=path.parent)
        except RegistrationError as err:
            raise RegistrationError(f"{path}: application [{index}]: {err}") from None
        apps.append(
            AppRecord(
                api_key=registration.api_key,
                name=registration.name,
                keys=tuple(keys),
                ods_codes=tuple(registration.ods_codes),
                created_at=int(now),
            )
        )
    if len({a.api_key for a in apps}) != len(apps):
        raise RegistrationError(f"{path}: two applications share an api_key")
    return apps


def seed_apps(store: AuthStore, apps: list[AppRecord]) -> None:
    for app in apps:
        store.put_app(app)


def seed_from_env(store: AuthStore, now: float, environ: Mapping[str, str] | None = None) -> list[str]:
    """Load ``TKW_APPS_FILE`` (when set) into the store; the API keys seeded."""
    env = os.environ if environ is None else environ
    path = (env.get(APPS_FILE_ENV) or "").strip()
    if not path:
        return []
    apps = load_apps_file(path, now)
    seed_apps(store, apps)
    return [a.api_key for a in apps]
