"""Settings from the environment: the defaults the template documents, and a clear refusal of bad values."""

from __future__ import annotations

import pytest

from tkw.settings import Settings


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.auth_mode == "sandbox"
    assert settings.tkw_edition == "live"
    assert settings.report_link_expiry_seconds == 900
    assert settings.report_retention_days == 30
    assert settings.share_link_days == 7
    assert settings.unknown_targets == "reject"
    assert settings.reports_enabled is True
    assert settings.report_handoff == "in-process"


def test_a_queue_url_makes_the_queue_the_report_handoff() -> None:
    assert Settings.from_env({"REPORTS_QUEUE_URL": "https://sqs.example/q"}).report_handoff == "queue"


def test_values_are_read_case_insensitively_where_they_are_choices() -> None:
    settings = Settings.from_env({"AUTH_MODE": " INT ", "TKW_EDITION": "Beta", "STRICT_MODE": "yes"})
    assert (settings.auth_mode, settings.tkw_edition, settings.strict_mode) == ("int", "beta", True)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TKW_EDITION": "gamma"}, "tkw_edition must be one of live, beta"),
        ({"AUTH_MODE": "prod"}, "auth_mode must be one of sandbox, int"),
        ({"REPORT_LINK_EXPIRY_SECONDS": "901"}, "report_link_expiry_seconds must be between 1 and 900"),
        ({"SHARE_LINK_DAYS": "31"}, "share_link_days must be between 1 and 30"),
        ({"RESPONSE_DELAY_SECONDS": "-1"}, "response_delay_seconds must be between 0 and 900"),
        ({"RESPONSE_TIMEOUT_SECONDS": "0"}, "response_timeout_seconds must be above 0"),
        ({"SHARE_LINK_DAYS": "a week"}, "SHARE_LINK_DAYS must be a whole number"),
    ],
)
def test_a_bad_value_is_refused_naming_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Settings.from_env(env)
