"""The pure checker of a token request: form fields, client-assertion JWT headers, claims, signature.

It records every check it makes (``AssertionCheck``: what passed, what failed and why, where) so
the sender's report can explain a rejection, and picks the one error API-M would answer with.
The jti replay check needs the store, so :mod:`tkw.auth.token_endpoint` adds it last.

Order and wording follow API-M (NHSDigital/identity-service-api: the ValidateJwt policy script and
its e2e tests), so a sender's error handling sees here what it will see in INT. Failures, in the
order API-M reports them (first failing check wins):

=================================  ======  =======================  ==============================================
check id                           status  error                    error_description
=================================  ======  =======================  ==============================================
form.grant_type                    400     invalid_request          grant_type is missing
                                   400     unsupported_grant_type   grant_type is invalid  (API-M: invalid_request)
form.client_assertion_type         400     invalid_request          Missing or invalid client_assertion_type - ...
form.client_assertion              400     invalid_request          Missing client_assertion
jwt.format                         400     invalid_request          Malformed JWT in client_assertion
header.alg                         400     invalid_request          Missing/Invalid 'alg' header ... must be 'RS512'
claim.exp.expired                  400     invalid_request          Invalid 'exp' claim ... - JWT has expired
header.kid                         400     invalid_request          Missing 'kid' header in client_assertion JWT
header.typ                         400     invalid_request          Invalid 'typ' header ... - must be 'JWT'
claim.exp                          400     invalid_request          Missing 'exp' claim / ... - must be an integer
claim.iss_sub                      400     invalid_request          Missing or non-matching 'iss'/'sub' claims ...
claim.jti                          400     invalid_request          Missing 'jti' claim / Invalid 'jti' claim ...
claim.exp.window                   400     invalid_request          ... - more than 5 minutes in future
app.api_key                        401     invalid_request          Invalid 'iss'/'sub' claims in client_assertion JWT
app.public_key                     403     public_key error         You need to register a public key ...
key.kid                            401     invalid_request          Invalid 'kid' header ... - no matching public key
signature                          401     public_key error         JWT signature verification failed
claim.aud                          401     invalid_request          Missing or invalid 'aud' claim ... - must be '<url>'
claim.jti.unique                   400     invalid_request          Non-unique 'jti' claim in client_assertion JWT
=================================  ======  =======================  ==============================================

Deliberate differences from API-M: a wrong ``grant_type`` answers ``unsupported_grant_type`` (RFC 6749
§5.2) where API-M says ``invalid_request``; the ``aud`` description names the expected URL, because
the emulator's token URL is not INT's; the jti replay check runs last, so a request that fails any
other check never burns its jti.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tkw.auth.keys import kid_follows_convention, load_public_key
from tkw.auth.models import (
    ALGORITHMS,
    ASSERTION_LIFETIME_GRACE_SECONDS,
    CLIENT_ASSERTION_TYPE,
    GRANT_TYPE,
    MAX_ASSERTION_LIFETIME_SECONDS,
    AppKey,
    AppRecord,
    AssertionCheck,
)
from tkw.validation.findings import Severity

MAX_ASSERTION_CHARS = 16 * 1024
_API_KEY = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")

# Every check id, in the order API-M reports failures; warnings sit after the check they refine.
CHECK_ORDER: tuple[str, ...] = (
    "form.content_type",
    "form.grant_type",
    "form.client_assertion_type",
    "form.client_assertion",
    "jwt.format",
    "header.alg",
    "claim.exp.expired",
    "header.kid",
    "header.kid.convention",
    "header.typ",
    "claim.exp",
    "claim.exp.integer",
    "claim.iss_sub",
    "claim.jti",
    "claim.jti.uuid",
    "claim.exp.window",
    "claim.nbf",
    "claim.iat",
    "app.api_key",
    "app.public_key",
    "key.kid",
    "signature",
    "claim.aud",
    "claim.jti.unique",
)
_PRIORITY = {check_id: index for index, check_id in enumerate(CHECK_ORDER)}

_IN_JWT = "in client_assertion JWT"
ASSERTION_TYPE_DESCRIPTION = f"Missing or invalid client_assertion_type - must be '{CLIENT_ASSERTION_TYPE}'"
NON_UNIQUE_JTI_DESCRIPTION = f"Non-unique 'jti' claim {_IN_JWT}"


@dataclass(frozen=True, slots=True)
class Failure:
    """How a failed check answers the token request (API-M's error shape)."""

    status: int
    error: str
    description: str


def invalid_request(description: str, status: int = 400) -> Failure:
    return Failure(status, "invalid_request", description)


@dataclass(slots=True)
class AssertionVerdict:
    """Everything the checker found; ``failure`` is the answer unless None (then a token may be issued)."""

    checks: list[AssertionCheck] = field(default_factory=list)
    app: AppRecord | None = None
    key: AppKey | None = None
    jti: str | None = None
    exp: float | None = None
    _failures: dict[str, Failure] = field(default_factory=dict)

    @property
    def failed_checks(self) -> list[AssertionCheck]:
        """The failed error checks, in API-M's order (``checks`` is kept sorted)."""
        return [c for c in self.checks if not c.passed and not c.skipped and c.severity == "error"]

    @property
    def failure(self) -> Failure | None:
        """The answer of the first failed error check, or None when a token may be issued."""
        failed = self.failed_checks
        return self._failures[failed[0].id] if failed else None

    def add(
        self,
        check_id: str,
        location: str,
        passed: bool,
        message: str,
        *,
        severity: Severity = "error",
        failure: Failure | None = None,
    ) -> None:
        if check_id not in _PRIORITY:
            raise ValueError(f"unknown check id {check_id}")
        if not passed and severity == "error":
            if failure is None:
                raise ValueError(f"failed error check {check_id} needs a failure answer")
            self._failures[check_id] = failure
        self.checks.append(
            AssertionCheck(id=check_id, severity=severity, passed=passed, message=message, location=location)
        )
        self.checks.sort(key=lambda c: _PRIORITY[c.id])

    def skip(self, check_id: str, location: str, reason: str) -> None:
        self.checks.append(
            AssertionCheck(
                id=check_id,
                severity="info",
                passed=False,
                skipped=True,
                message=f"Not checked: {reason}",
                location=location,
            )
        )
        self.checks.sort(key=lambda c: _PRIORITY[c.id])


def check_token_request(
    form: Mapping[str, str],
    *,
    audience: str,
    now: float,
    find_app: Callable[[str], AppRecord | None],
    content_type: str | None = None,
) -> AssertionVerdict:
    """Check a token request's form fields and client assertion (all but jti uniqueness).

    ``form`` holds the first value of each form field; ``audience`` is this endpoint's full URL;
    ``find_app`` looks an API key up (the store, or a dict's ``get`` in tests).
    """
    verdict = AssertionVerdict()
    _check_form(verdict, form, content_type)
    assertion = form.get("client_assertion")
    if not assertion:
        for check_id, location in _JWT_CHECKS:
            verdict.skip(check_id, location, "no client_assertion was sent")
        return verdict
    try:
        header, claims = decode_unverified(assertion)
    except ValueError as err:
        verdict.add(
            "jwt.format",
            "form.client_assertion",
            False,
            f"client_assertion is not a signed JWT (header.payload.signature, base64url JSON): {err}",
            failure=invalid_request("Malformed JWT in client_assertion"),
        )
        for check_id, location in _JWT_CHECKS[1:]:
            verdict.skip(check_id, location, "the client_assertion could not be decoded")
        return verdict
    verdict.add(
        "jwt.format", "form.client_assertion", True, "client_assertion is a compact JWS with JSON header and claims"
    )

    _check_headers(verdict, header)
    _check_exp(verdict, claims, now)
    iss = _check_iss_sub(verdict, claims)
    _check_jti(verdict, claims)
    _check_times(verdict, claims, now)
    _check_app_and_key(verdict, header, iss, find_app)
    _check_signature(verdict, assertion)
    _check_aud(verdict, claims, audience)
    return verdict


# The checks that need a decoded JWT, skipped together when there is none (jwt.format first).
_JWT_CHECKS: tuple[tuple[str, str], ...] = (
    ("jwt.format", "form.client_assertion"),
    ("header.alg", "header.alg"),
    ("header.kid", "header.kid"),
    ("header.typ", "header.typ"),
    ("claim.exp", "claim.exp"),
    ("claim.iss_sub", "claim.iss"),
    ("claim.jti", "claim.jti"),
    ("app.api_key", "claim.iss"),
    ("key.kid", "header.kid"),
    ("signature", "signature"),
    ("claim.aud", "claim.aud"),
)


def _check_form(verdict: AssertionVerdict, form: Mapping[str, str], content_type: str | None) -> None:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    verdict.add(
        "form.content_type",
        "header.Content-Type",
        media_type == "application/x-www-form-urlencoded",
        "Content-Type is application/x-www-form-urlencoded"
        if media_type == "application/x-www-form-urlencoded"
        else f"Content-Type is {content_type or 'missing'!r}; the token request must be "
        "application/x-www-form-urlencoded (API-M may not read the fields otherwise)",
        severity="warning",
    )

    grant_type = form.get("grant_type")
    if not grant_type:
        verdict.add(
            "form.grant_type",
            "form.grant_type",
            False,
            f"grant_type is missing; it must be '{GRANT_TYPE}'",
            failure=invalid_request("grant_type is missing"),
        )
    elif grant_type != GRANT_TYPE:
        verdict.add(
            "form.grant_type",
            "form.grant_type",
            False,
            f"grant_type is {_show(grant_type)}; the signed-JWT (application-restricted) flow uses '{GRANT_TYPE}'",
            failure=Failure(400, "unsupported_grant_type", "grant_type is invalid"),
        )
    else:
        verdict.add("form.grant_type", "form.grant_type", True, f"grant_type is '{GRANT_TYPE}'")

    assertion_type = form.get("client_assertion_type")
    verdict.add(
        "form.client_assertion_type",
        "form.client_assertion_type",
        assertion_type == CLIENT_ASSERTION_TYPE,
        f"client_assertion_type is '{CLIENT_ASSERTION_TYPE}'"
        if assertion_type == CLIENT_ASSERTION_TYPE
        else f"client_assertion_type is {_show(assertion_type) if assertion_type else 'missing'}; "
        f"it must be '{CLIENT_ASSERTION_TYPE}'",
        failure=invalid_request(ASSERTION_TYPE_DESCRIPTION),
    )

    assertion = form.get("client_assertion")
    verdict.add(
        "form.client_assertion",
        "form.client_assertion",
        bool(assertion),
        "client_assertion is present" if assertion else "client_assertion is missing; it must be your signed JWT",
        failure=invalid_request("Missing client_assertion"),
    )


def _check_headers(verdict: AssertionVerdict, header: Mapping[str, Any]) -> None:
    alg = header.get("alg")
    if not alg:
        verdict.add(
            "header.alg",
            "header.alg",
            False,
            "the JWT header has no alg; it must be 'RS512'",
            failure=invalid_request(f"Missing 'alg' header {_IN_JWT}"),
        )
    elif alg not in ALGORITHMS:
        hint = " (an unsigned JWT)" if str(alg).lower() == "none" else ""
        if isinstance(alg, str) and alg.upper().startswith("HS"):
            hint = " (a shared-secret HMAC algorithm)"
        verdict.add(
            "header.alg",
            "header.alg",
            False,
            f"alg is {_show(alg)}{hint}; API-M accepts only 'RS512' (RSA signature with SHA-512)",
            failure=invalid_request(f"Invalid 'alg' header {_IN_JWT} - unsupported JWT algorithm - must be 'RS512'"),
        )
    else:
        verdict.add("header.alg", "header.alg", True, "alg is 'RS512'")

    kid = header.get("kid")
    if not kid or not isinstance(kid, str):
        verdict.add(
            "header.kid",
            "header.kid",
            False,
            "the JWT header has no kid (string); it must name the key you registered, e.g. 'MySupplier-INT-1'"
            if not kid
            else f"kid is {_show(kid)}, not a string",
            failure=invalid_request(f"Missing 'kid' header {_IN_JWT}"),
        )
        verdict.skip("header.kid.convention", "header.kid", "no kid")
    else:
        verdict.add("header.kid", "header.kid", True, f"kid is {_show(kid)}")
        conventional = kid_follows_convention(kid)
        verdict.add(
            "header.kid.convention",
            "header.kid",
            conventional,
            f"kid {_show(kid)} follows the <Supplier>-<Environment>-<rotation> convention"
            if conventional
            else f"kid {_show(kid)} does not follow the onboarding convention <Supplier>-<Environment>-<rotation>, "
            "e.g. 'MySupplier-INT-1' (development systems) or 'Provider-INT-1' (provider systems)",
            severity="warning",
        )

    typ = header.get("typ")
    typ_ok = isinstance(typ, str) and typ.lower() == "jwt"
    verdict.add(
        "header.typ",
        "header.typ",
        typ_ok,
        f"typ is {_show(typ)}"
        if typ_ok
        else (f"typ is {_show(typ)}" if typ is not None else "the JWT header has no typ") + "; it must be 'JWT'",
        failure=invalid_request(f"Invalid 'typ' header {_IN_JWT} - must be 'JWT'"),
    )


def _check_exp(verdict: AssertionVerdict, claims: Mapping[str, Any], now: float) -> None:
    exp = claims.get("exp")
    if exp is None:
        verdict.add(
            "claim.exp",
            "claim.exp",
            False,
            "the exp claim is missing; it must be a NumericDate (epoch seconds) at most 5 minutes ahead",
            failure=invalid_request(f"Missing 'exp' claim {_IN_JWT}"),
        )
    elif not _is_number(exp):
        string_hint = (
            ' (it is a JSON string: send the number itself, e.g. "exp": 1635263528, not "1635263528")'
            if isinstance(exp, str)
            else ""
        )
        verdict.add(
            "claim.exp",
            "claim.exp",
            False,
            f"exp is {_show(exp)}, not a number{string_hint}",
            failure=invalid_request(f"Invalid 'exp' claim {_IN_JWT} - must be an integer"),
        )
    else:
        verdict.exp = float(exp)
        verdict.add("claim.exp", "claim.exp", True, f"exp is {int(exp)} ({_iso(exp)})")

    if verdict.exp is None:
        verdict.skip("claim.exp.expired", "claim.exp", "no numeric exp")
        verdict.skip("claim.exp.window", "claim.exp", "no numeric exp")
        return
    ahead = verdict.exp - now
    verdict.add(
        "claim.exp.expired",
        "claim.exp",
        ahead > 0,
        f"exp is {ahead:.0f} s in the future"
        if ahead > 0
        else f"exp {_iso(verdict.exp)} is {-ahead:.0f} s in the past (server time {_iso(now)}): "
        "the JWT has expired; mint a fresh assertion for every token request",
        failure=invalid_request(f"Invalid 'exp' claim {_IN_JWT} - JWT has expired"),
    )
    limit = MAX_ASSERTION_LIFETIME_SECONDS
    grace = ASSERTION_LIFETIME_GRACE_SECONDS
    if ahead > limit + grace:
        verdict.add(
            "claim.exp.window",
            "claim.exp",
            False,
            f"exp is {ahead:.0f} s ahead of server time {_iso(now)}; it must be at most {limit} s (5 minutes) ahead",
            failure=invalid_request(f"Invalid 'exp' claim {_IN_JWT} - more than 5 minutes in future"),
        )
    elif ahead > limit:
        verdict.add(
            "claim.exp.window",
            "claim.exp",
            False,
            f"exp is {ahead:.0f} s ahead; API-M allows 5 minutes plus {grace} s for clock skew, "
            "so this only just passes: aim for 5 minutes or less",
            severity="warning",
        )
    else:
        verdict.add("claim.exp.window", "claim.exp", True, f"exp is within 5 minutes ({ahead:.0f} s ahead)")
    if isinstance(exp, float) and not exp.is_integer():
        verdict.add(
            "claim.exp.integer",
            "claim.exp",
            False,
            f"exp {exp} has a fraction; NumericDate is normally whole seconds and API-M says 'must be an integer'",
            severity="warning",
        )


def _check_iss_sub(verdict: AssertionVerdict, claims: Mapping[str, Any]) -> str | None:
    iss, sub = claims.get("iss"), claims.get("sub")
    if not iss or not isinstance(iss, str) or iss != sub:
        if not iss:
            why = "the iss claim is missing"
        elif not isinstance(iss, str):
            why = f"iss is {_show(iss)}, not a string"
        elif not sub:
            why = "the sub claim is missing"
        else:
            why = f"iss {_show(iss)} and sub {_show(sub)} differ"
        verdict.add(
            "claim.iss_sub",
            "claim.iss",
            False,
            f"{why}; iss and sub must both be your application's API key",
            failure=invalid_request(f"Missing or non-matching 'iss'/'sub' claims {_IN_JWT}"),
        )
    else:
        verdict.add("claim.iss_sub", "claim.iss", True, "iss and sub are equal")
    return iss if isinstance(iss, str) and iss else None


def _check_jti(verdict: AssertionVerdict, claims: Mapping[str, Any]) -> None:
    jti = claims.get("jti")
    if not jti:
        verdict.add(
            "claim.jti",
            "claim.jti",
            False,
            "the jti claim is missing; it must be a fresh unique string (a UUID) for every request",
            failure=invalid_request(f"Missing 'jti' claim {_IN_JWT}"),
        )
        verdict.skip("claim.jti.uuid", "claim.jti", "no jti")
        return
    if not isinstance(jti, str):
        verdict.add(
            "claim.jti",
            "claim.jti",
            False,
            f"jti is {_show(jti)}, not a string; use a UUID",
            failure=invalid_request(f"Invalid 'jti' claim {_IN_JWT} - must be a unique string value such as a GUID"),
        )
        verdict.skip("claim.jti.uuid", "claim.jti", "jti is not a string")
        return
    verdict.jti = jti
    verdict.add("claim.jti", "claim.jti", True, "jti is a string")
    verdict.add(
        "claim.jti.uuid",
        "claim.jti",
        _is_uuid(jti),
        "jti is a UUID"
        if _is_uuid(jti)
        else f"jti {_show(jti)} is not a UUID; the onboarding guide asks for a UUID/GUID, different for each request",
        severity="warning",
    )


def _check_times(verdict: AssertionVerdict, claims: Mapping[str, Any], now: float) -> None:
    nbf = claims.get("nbf")
    if nbf is not None:
        ok = _is_number(nbf) and float(nbf) <= now
        verdict.add(
            "claim.nbf",
            "claim.nbf",
            ok,
            "nbf is not in the future"
            if ok
            else f"nbf {_show(nbf)} is not a NumericDate at or before server time {_iso(now)}; "
            "strict servers would reject this JWT",
            severity="warning",
        )
    iat = claims.get("iat")
    if iat is not None:
        ok = _is_number(iat) and float(iat) <= now + 60
        verdict.add(
            "claim.iat",
            "claim.iat",
            ok,
            "iat is not in the future"
            if ok
            else f"iat {_show(iat)} is not a NumericDate at or before server time {_iso(now)} (is your clock right?)",
            severity="warning",
        )


def _check_app_and_key(
    verdict: AssertionVerdict,
    header: Mapping[str, Any],
    iss: str | None,
    find_app: Callable[[str], AppRecord | None],
) -> None:
    if iss is None:
        for check_id, location in (
            ("app.api_key", "claim.iss"),
            ("app.public_key", "claim.iss"),
            ("key.kid", "header.kid"),
        ):
            verdict.skip(check_id, location, "no iss claim to look the application up by")
        return
    app = find_app(iss) if _API_KEY.match(iss) else None
    if app is None:
        verdict.add(
            "app.api_key",
            "claim.iss",
            False,
            f"iss {_show(iss)} is not the API key of any application registered with this emulator "
            "(register one with POST /tkw/apps)",
            failure=invalid_request(f"Invalid 'iss'/'sub' claims {_IN_JWT}", status=401),
        )
        verdict.skip("app.public_key", "claim.iss", "unknown application")
        verdict.skip("key.kid", "header.kid", "unknown application")
        return
    verdict.app = app
    verdict.add("app.api_key", "claim.iss", True, f"iss is the API key of application {_show(app.name)}")
    if not app.keys:
        verdict.add(
            "app.public_key",
            "claim.iss",
            False,
            f"application {_show(app.name)} has no public key registered",
            failure=Failure(
                403,
                "public_key error",
                "You need to register a public key to use this authentication method - "
                "please contact support to configure",
            ),
        )
        verdict.skip("key.kid", "header.kid", "no public key registered")
        return
    verdict.add("app.public_key", "claim.iss", True, f"application has {len(app.keys)} public key(s) registered")
    kid = header.get("kid")
    key = app.key_for(kid) if isinstance(kid, str) else None
    if key is None:
        verdict.add(
            "key.kid",
            "header.kid",
            False,
            f"kid {_show(kid)} is not registered for this application (registered: "
            f"{', '.join(_show(k) for k in app.kids)})",
            failure=invalid_request(f"Invalid 'kid' header {_IN_JWT} - no matching public key", status=401),
        )
        return
    verdict.key = key
    verdict.add("key.kid", "header.kid", True, f"kid {_show(kid)} names a registered public key")


def _check_signature(verdict: AssertionVerdict, assertion: str) -> None:
    if verdict.key is None:
        verdict.skip("signature", "signature", "no registered public key matches the JWT")
        return
    import jwt  # pyjwt, with an explicit algorithm allow-list: never trust the token's own alg

    try:
        jwt.PyJWS(algorithms=list(ALGORITHMS)).decode_complete(
            assertion, key=load_public_key(verdict.key.public_key_pem), algorithms=list(ALGORITHMS)
        )
    except jwt.InvalidAlgorithmError:
        message = "the signature was not verified: only RS512 signatures are accepted"
    except jwt.InvalidSignatureError:
        message = (
            f"the RS512 signature does not verify with the public key registered under kid "
            f"{_show(verdict.key.kid)}: was the JWT signed with the matching private key, and not altered?"
        )
    except jwt.PyJWTError as err:
        message = f"the signature could not be verified: {err}"
    else:
        verdict.add("signature", "signature", True, f"RS512 signature verified with kid {_show(verdict.key.kid)}")
        return
    verdict.add(
        "signature",
        "signature",
        False,
        message,
        failure=Failure(401, "public_key error", "JWT signature verification failed"),
    )


def _check_aud(verdict: AssertionVerdict, claims: Mapping[str, Any], audience: str) -> None:
    aud = claims.get("aud")
    failure = invalid_request(f"Missing or invalid 'aud' claim {_IN_JWT} - must be '{audience}'", status=401)
    if aud == audience:
        verdict.add("claim.aud", "claim.aud", True, f"aud is this token endpoint, {_show(audience)}")
        return
    if aud is None:
        message = f"the aud claim is missing; it must be {_show(audience)}"
    elif isinstance(aud, list):
        message = f"aud is a list; it must be the single string {_show(audience)}"
    elif isinstance(aud, str) and aud.rstrip("/") == audience:
        message = f"aud {_show(aud)} has a trailing '/'; it must be exactly {_show(audience)}"
    elif isinstance(aud, str) and aud.endswith("/oauth2/token"):
        message = (
            f"aud {_show(aud)} is another environment's token endpoint; on this emulator it must be {_show(audience)}"
        )
    else:
        message = f"aud is {_show(aud)}; it must be the full URL of this token endpoint, {_show(audience)}"
    verdict.add("claim.aud", "claim.aud", False, message, failure=failure)


def decode_unverified(assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWS, not verified; ValueError says what is malformed."""
    token = assertion.strip()
    if len(token) > MAX_ASSERTION_CHARS:
        raise ValueError(f"it is longer than {MAX_ASSERTION_CHARS} characters")
    parts = token.split(".")
    if len(parts) == 5:
        raise ValueError("it has 5 parts, like an encrypted JWE; send a signed JWT (3 parts)")
    if len(parts) != 3:
        raise ValueError(f"it has {len(parts)} part(s) separated by '.', not 3")
    header = _b64_json(parts[0], "header")
    claims = _b64_json(parts[1], "payload")
    return header, claims


def _b64_json(segment: str, name: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        raise ValueError(f"the {name} is not base64url-encoded JSON") from None
    if not isinstance(value, dict):
        raise ValueError(f"the {name} is not a JSON object")
    return value


def _is_number(value: object) -> bool:
    """A JSON number usable as a NumericDate: not a bool, finite, within float range."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) in (32, 36, 38)


def _iso(epoch: float) -> str:
    try:
        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return str(epoch)


def _show(value: object, limit: int = 80) -> str:
    """A value for a message: repr, shortened (claims are user input and may be huge)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
