"""The pure checker: every check recorded, API-M's error for the first failure in API-M's order."""

from __future__ import annotations

import pytest
from unit.auth.auth_support import (
    API_KEY,
    ATTACKS,
    AUDIENCE,
    KID,
    NOW,
    Attack,
    app_record,
    claims,
    form,
    sign,
)

from tkw.auth.assertion import CHECK_ORDER, check_token_request, decode_unverified
from tkw.auth.models import AppRecord

APPS = {API_KEY: app_record()}


def check(
    fields: dict[str, str],
    apps: dict[str, AppRecord] | None = None,
    now: float = NOW,
    content_type: str | None = "application/x-www-form-urlencoded",
):
    registry = APPS if apps is None else apps
    return check_token_request(fields, audience=AUDIENCE, now=now, find_app=registry.get, content_type=content_type)


def by_id(verdict) -> dict:
    return {c.id: c for c in verdict.checks}


def test_a_good_request_passes_every_error_check() -> None:
    verdict = check(form(sign(claims())))
    assert verdict.failure is None
    assert verdict.app is not None and verdict.app.api_key == API_KEY
    assert verdict.key is not None and verdict.key.kid == KID
    assert verdict.jti is not None
    checks = by_id(verdict)
    for check_id in (
        "form.grant_type",
        "form.client_assertion_type",
        "form.client_assertion",
        "jwt.format",
        "header.alg",
        "header.kid",
        "header.typ",
        "claim.exp",
        "claim.exp.expired",
        "claim.exp.window",
        "claim.iss_sub",
        "claim.jti",
        "app.api_key",
        "app.public_key",
        "key.kid",
        "signature",
        "claim.aud",
    ):
        assert checks[check_id].passed, checks[check_id]
    # The conventions of the seed's onboarding guide are warnings, and here they hold.
    assert checks["header.kid.convention"].passed and checks["header.kid.convention"].severity == "warning"
    assert checks["claim.jti.uuid"].passed and checks["claim.jti.uuid"].severity == "warning"
    # jti uniqueness needs the store: the token endpoint adds it.
    assert "claim.jti.unique" not in checks


def test_checks_come_in_api_m_order_with_locations() -> None:
    verdict = check(form(sign(claims())))
    ids = [c.id for c in verdict.checks]
    assert ids == sorted(ids, key=CHECK_ORDER.index)
    locations = {c.id: c.location for c in verdict.checks}
    assert locations["header.alg"] == "header.alg"
    assert locations["claim.exp.window"] == "claim.exp"
    assert locations["app.api_key"] == "claim.iss"
    assert locations["form.grant_type"] == "form.grant_type"


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_is_refused_by_the_pure_checker(name: str) -> None:
    build, check_id, status, error, description = ATTACKS[name]
    verdict = check(build(NOW))
    failure = verdict.failure
    assert failure is not None, name
    assert (failure.status, failure.error) == (status, error)
    assert failure.description.startswith(description)
    failed = by_id(verdict)[check_id]
    assert not failed.passed and failed.severity == "error" and failed.message


def test_conventions_are_warnings_not_errors() -> None:
    app = app_record(kid="my key")
    verdict = check(form(sign(claims(jti="request-1"), kid="my key")), apps={API_KEY: app})
    assert verdict.failure is None
    checks = by_id(verdict)
    assert not checks["header.kid.convention"].passed
    assert "<Supplier>-<Environment>-<rotation>" in checks["header.kid.convention"].message
    assert not checks["claim.jti.uuid"].passed
    assert "UUID" in checks["claim.jti.uuid"].message


def test_exp_within_api_m_grace_passes_with_a_warning() -> None:
    verdict = check(form(sign(claims(exp=int(NOW) + 305))))
    assert verdict.failure is None
    window = by_id(verdict)["claim.exp.window"]
    assert not window.passed and window.severity == "warning"
    assert check(form(sign(claims(exp=int(NOW) + 311)))).failure is not None


def test_exp_exactly_now_has_expired() -> None:
    failure = check(form(sign(claims(exp=int(NOW))))).failure
    assert failure is not None and failure.description.endswith("JWT has expired")


def test_expired_is_reported_before_a_missing_kid_as_api_m_does() -> None:
    failure = check(form(sign(claims(exp=int(NOW) - 100), kid=None))).failure
    assert failure is not None and failure.description.endswith("JWT has expired")


@pytest.mark.parametrize("exp", [float("inf"), float("nan"), 10**400, True, [1]])
def test_absurd_exp_values_are_not_integers(exp: object) -> None:
    failure = check(form(sign(claims(exp=exp)))).failure
    assert failure is not None
    assert failure.description == "Invalid 'exp' claim in client_assertion JWT - must be an integer"


def test_a_string_exp_explains_the_seed_example_trap() -> None:
    verdict = check(form(sign(claims(exp=str(int(NOW) + 60)))))
    assert "JSON string" in by_id(verdict)["claim.exp"].message


def test_wrong_aud_names_the_expected_url() -> None:
    verdict = check(form(sign(claims(aud="https://int.api.service.nhs.uk/oauth2/token"))))
    failure = verdict.failure
    assert failure is not None and failure.description.endswith(f"must be '{AUDIENCE}'")
    assert "another environment" in by_id(verdict)["claim.aud"].message
    trailing = check(form(sign(claims(aud=AUDIENCE + "/"))))
    assert "trailing" in by_id(trailing)["claim.aud"].message
    as_list = check(form(sign(claims(aud=[AUDIENCE]))))
    assert as_list.failure is not None and "list" in by_id(as_list)["claim.aud"].message


def test_an_app_without_keys_is_a_public_key_error() -> None:
    bare = AppRecord(api_key=API_KEY, name="No keys", keys=(), created_at=0)
    failure = check(form(sign(claims())), apps={API_KEY: bare}).failure
    assert failure is not None
    assert (failure.status, failure.error) == (403, "public_key error")
    assert failure.description.startswith("You need to register a public key")


def test_unknown_app_skips_key_and_signature_checks() -> None:
    verdict = check(form(sign(claims())), apps={})
    checks = by_id(verdict)
    assert checks["key.kid"].skipped and checks["signature"].skipped
    assert not checks["signature"].passed and checks["signature"].severity == "info"


def test_missing_assertion_skips_the_jwt_checks() -> None:
    verdict = check(form(None))
    checks = by_id(verdict)
    assert checks["header.alg"].skipped and checks["signature"].skipped
    assert [c.id for c in verdict.failed_checks] == ["form.client_assertion"]


def test_content_type_is_a_warning() -> None:
    verdict = check(form(sign(claims())), content_type="application/json")
    assert verdict.failure is None
    assert not by_id(verdict)["form.content_type"].passed


def test_every_failure_is_collected_for_the_report() -> None:
    verdict = check(form(sign(claims(exp=int(NOW) + 3600, jti=None, aud="x"), kid="TestSupplier-INT-2")))
    failed = {c.id for c in verdict.failed_checks}
    assert {"claim.exp.window", "claim.jti", "key.kid"} <= failed
    assert verdict.failure is not None and verdict.failure.description.startswith("Missing 'jti'")


def test_messages_do_not_echo_huge_values() -> None:
    verdict = check(form(sign(claims(aud="x" * 5000))))
    assert all(len(c.message) < 600 for c in verdict.checks)


@pytest.mark.parametrize(
    ("assertion", "reason"),
    [
        ("a.b", "2 part"),
        ("a.b.c.d.e", "JWE"),
        ("%%%.e30.", "header"),
        ("W10.e30.", "JSON object"),  # header is [] (a list)
        ("e30.bm90anNvbg.", "payload"),
    ],
)
def test_decode_unverified_says_what_is_malformed(assertion: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        decode_unverified(assertion)


def test_attack_table_shape() -> None:
    attack: Attack = ATTACKS["alg none"]
    assert len(attack) == 5
