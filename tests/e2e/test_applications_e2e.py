"""Applications 5 and 6 over HTTP: the live IG's messages are answered, and each report names the
Application and use case it judged against, with that Application's named checks.

Expected answers come from the live TKW page: a referral to 2000070513 "validates referral for
Application 5 and returns Service Request Id = 79120f41-a431-4f08-bcc5-1e67006fcae0"; a referral to
2000159910 "will be validated against the Application6 Out-of-Area CAD-CAD use-case".
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from bars_support import DOS, bars_headers, live_example
from emulator_support import Emulator

REFERRAL_ID = "79120f41-a431-4f08-bcc5-1e67006fcae0"


def send(emulator: Emulator, bundle: dict[str, Any], target: str, ods: str) -> tuple[Any, dict[str, Any]]:
    bundle["entry"][0]["resource"]["destination"][0]["endpoint"] = f"{DOS}|{target}"
    service_request = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ServiceRequest")
    codings = [c for concept in service_request["category"] for c in concept["coding"]]
    use_case = next(c["code"] for c in codings if c["system"].endswith("usecases-categories-bars"))
    header = bundle["entry"][0]["resource"]
    use_context = f"{use_case}|referral|{header['eventCoding']['code']}|{header['reason']['coding'][0]['code']}"
    headers = bars_headers(target_value=target, ods=ods) | {
        "Content-Type": "application/fhir+json",
        "use-context": use_context,
    }
    result = emulator.bars("POST", "/$process-message", headers, json.dumps(bundle).encode())
    report_id = result.header("TKW-Report-Id")
    assert report_id
    record = emulator.request("GET", f"/tkw/reports/{report_id}", bars_headers(ods=ods))
    assert record.status == 200
    return result, record.json


def test_an_app5_referral_is_answered_and_judged_as_application_5(emulator: Emulator) -> None:
    ods = "P" + uuid.uuid4().hex[:5].upper()
    result, report = send(emulator, live_example("REFREQ03"), "2000070513", ods)
    assert result.status == 200
    focus = next(e["resource"] for e in result.json["entry"] if e["resource"]["resourceType"] == "ServiceRequest")
    assert focus["id"] == REFERRAL_ID
    judged = report["judged_against"]
    assert (judged["application"], judged["use_case"], judged["workflow"]) == (5, "a5t1", "referral-new")
    assert "2000070513" in judged["why"]
    checks = {f["id"]: f for f in report["findings"]}
    assert checks["app5.referral.performer"]["passed"] is True


@pytest.mark.parametrize("prefix", ["REFREQ04", "REFREQ8A", "REFREQ8B", "REFREQ8C", "REFREQ8D", "REFRESP03"])
def test_app6_messages_are_answered_and_judged_as_application_6(emulator: Emulator, prefix: str) -> None:
    ods = "C" + uuid.uuid4().hex[:5].upper()
    result, report = send(emulator, live_example(prefix), "2000159910", ods)
    assert result.status == 200, result.json
    judged = report["judged_against"]
    assert (judged["application"], judged["use_case"]) == (6, "a6t1")
    assert not [f for f in report["findings"] if f["id"].startswith("app6") and not f["passed"]]
