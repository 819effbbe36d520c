"""checkov over ``template.yaml``: every failed check is one ``checkov-skips.yaml`` lists with a reason,
and every listed check still fails (a skip that no longer applies is removed, not kept).

Also the template's side of "a deployed stack is not an open relay": stage throttling, the optional
source-address resource policy, access logs that hold no path, the share-link lifetime bounds.
checkov runs from its own venv (``make install``), offline.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from bars_support import ROOT

from tkw_local.template import load_template

TEMPLATE_PATH = ROOT / "template.yaml"
TEMPLATE = load_template(TEMPLATE_PATH)
SKIPS: dict[str, str] = yaml.safe_load((ROOT / "checkov-skips.yaml").read_text(encoding="utf-8"))


def checkov_bin() -> Path:
    found = Path(os.environ.get("CHECKOV_BIN") or ROOT / ".venv-checkov" / "bin" / "checkov")
    assert found.exists(), f"checkov not found at {found}: run `make install`"
    return found


@pytest.fixture(scope="module")
def failed_checks() -> dict[str, list[str]]:
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    result = subprocess.run(
        [
            str(checkov_bin()),
            "-f",
            str(TEMPLATE_PATH),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--quiet",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["summary"]["parsing_errors"] == 0, report["summary"]
    failed: dict[str, list[str]] = {}
    for check in report["results"].get("failed_checks", []):
        failed.setdefault(check["check_id"], []).append(check["resource"])
    return failed


def test_every_skip_has_a_reason() -> None:
    assert SKIPS and all(isinstance(reason, str) and len(reason.split()) >= 10 for reason in SKIPS.values())


def test_checkov_fails_no_check_that_is_not_listed_with_its_reason(failed_checks: dict[str, list[str]]) -> None:
    unlisted = {check: resources for check, resources in failed_checks.items() if check not in SKIPS}
    assert not unlisted, f"fix these, or list them in checkov-skips.yaml with the reason: {unlisted}"


def test_every_listed_skip_still_applies(failed_checks: dict[str, list[str]]) -> None:
    stale = sorted(set(SKIPS) - set(failed_checks))
    assert not stale, f"these checks pass now: remove them from checkov-skips.yaml: {stale}"


def test_access_logs_are_fixed_not_skipped(failed_checks: dict[str, list[str]]) -> None:
    assert "CKV_AWS_76" not in failed_checks and "CKV_AWS_76" not in SKIPS


# ---- not an open relay --------------------------------------------------------------------------


API = TEMPLATE["Resources"]["BarsApi"]["Properties"]
PARAMETERS = TEMPLATE["Parameters"]


def test_the_stage_is_throttled_by_parameters_with_sensible_defaults() -> None:
    [settings] = API["MethodSettings"]
    assert settings["ResourcePath"] == "/*" and settings["HttpMethod"] == "*"
    assert settings["ThrottlingRateLimit"] == {"Ref": "ThrottlingRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ThrottlingBurstLimit"}
    rate, burst = PARAMETERS["ThrottlingRateLimit"]["Default"], PARAMETERS["ThrottlingBurstLimit"]["Default"]
    assert 1 <= rate <= 100 and rate <= burst <= 200  # enough for a team's tests, not for a flood


def test_allowed_source_cidrs_feed_the_resource_policy_and_default_to_everyone() -> None:
    cidrs = PARAMETERS["AllowedSourceCidrs"]
    assert (cidrs["Type"], cidrs["Default"]) == ("CommaDelimitedList", "")
    allow, deny = API["Auth"]["ResourcePolicy"]["CustomStatements"]
    assert allow["Effect"] == "Allow" and deny["Effect"] == "Deny"
    sources = deny["Condition"]["NotIpAddress"]["aws:SourceIp"]
    assert sources == {"Fn::If": ["RestrictSourceCidrs", {"Ref": "AllowedSourceCidrs"}, ["0.0.0.0/0", "::/0"]]}


def test_access_logs_name_the_route_template_never_the_path() -> None:
    log_format = API["AccessLogSetting"]["Format"]
    assert "$context.resourcePath" in log_format
    for leaky in ("$context.path", "$context.requestOverride", "$input", "$context.authorizer"):
        assert leaky not in log_format


def test_share_links_last_seven_days_by_default_and_at_most_thirty() -> None:
    days = PARAMETERS["ShareLinkDays"]
    assert (days["Default"], days["MinValue"], days["MaxValue"]) == (7, 1, 30)


def test_outbound_budgets_are_parameters_the_functions_receive() -> None:
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert env["RECEIVER_RUNS_PER_HOUR"] == {"Ref": "ReceiverRunsPerHour"}
    assert env["ASYNC_RESPONSES_PER_HOUR"] == {"Ref": "AsyncResponsesPerHour"}
    assert env["SHARE_LINK_DAYS"] == {"Ref": "ShareLinkDays"}
