"""Application payload rules, UCC checks and the judgement, on the live IG's Application 5 and 6
messages and broken copies of them. Expected values come from the Application pages
(seed/applications/app5-*, app6-*), the TKW change log (NBRS-3034) and the usecases-categories-bars
CodeSystem, not from the rule table.
"""

from __future__ import annotations

from typing import Any

import pytest
from bars_support import DOS, live_example
from validation_support import errors, failures, good_headers, only, run, use_context_for, warnings

from tkw.routes import Operation
from tkw.validation import Finding

APP5, APP6 = "2000070513", "2000159910"


def send(bundle: dict[str, Any], target: str, use_context: str | None = "agree") -> list[Finding]:
    """$process-message to ``target``, the MessageHeader addressed to it, use-context agreeing."""
    bundle["entry"][0]["resource"]["destination"][0]["endpoint"] = f"{DOS}|{target}"
    context = use_context_for(bundle) if use_context == "agree" else use_context
    headers = good_headers(target, **{"Content-Type": "application/fhir+json", "use-context": context})
    return run(Operation.PROCESS_MESSAGE, headers, body=bundle)


def of_type(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def entry(bundle: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return next(e for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type)


def use_case_coding(bundle: dict[str, Any]) -> dict[str, Any]:
    service_request = of_type(bundle, "ServiceRequest")[0]
    codings = [c for concept in service_request["category"] for c in concept["coding"]]
    return next(c for c in codings if c["system"].endswith("usecases-categories-bars"))


def judged(findings: list[Finding]) -> str:
    return only([f for f in findings if f.id == "application.judged"]).message


def app_checks(findings: list[Finding], prefix: str) -> set[str]:
    return {f.id for f in findings if f.id.startswith(prefix)}


# -- the IG's own messages pass their Application's rules ----------------------------------------


@pytest.mark.parametrize(
    ("prefix", "target", "application", "use_case"),
    [
        ("REFREQ03", APP5, "Application 5", "a5t1"),
        ("REFREQ04", APP6, "Application 6", "a6t1"),
        ("REFREQ8A", APP6, "Application 6", "a6t1"),
        ("REFREQ8B", APP6, "Application 6", "a6t1"),
        ("REFREQ8C", APP6, "Application 6", "a6t1"),
        ("REFREQ8D", APP6, "Application 6", "a6t1"),
        ("REFRESP03", APP6, "Application 6", "a6t1"),
    ],
)
def test_ig_application_messages_pass_their_application_rules(
    prefix: str, target: str, application: str, use_case: str
) -> None:
    findings = send(live_example(prefix), target)
    assert errors(findings, "app") == [] and errors(findings, "ucc") == []
    assert errors(findings, "header.use-context") == []
    message = judged(findings)
    assert f"Judged against {application}" in message and f"use case {use_case}" in message
    assert f"the target {target}" in message


def test_an_app5_referral_is_checked_against_each_app5_rule() -> None:
    findings = send(live_example("REFREQ03"), APP5)
    # The App 5 page's "Make a Referral" table and payload MUSTs, one named check each.
    assert {
        "app5.referral.performer",
        "app5.referral.encounter-status",
        "app5.referral.careplan-status",
        "app5.referral.task-code",
        "app5.referral.consent",
    } <= {f.id for f in findings if f.passed}


# -- Application 5 ------------------------------------------------------------------------------


def test_app5_performer_pointing_at_an_organization_fails_nbrs_3034() -> None:
    bundle = live_example("REFREQ03")
    organization = entry(bundle, "Organization")["fullUrl"]
    of_type(bundle, "ServiceRequest")[0]["performer"] = [{"reference": organization}]
    finding = only(errors(send(bundle, APP5), "app5.referral.performer"))
    assert "HealthcareService" in finding.message and "points at a Organization" in finding.message
    assert finding.location.endswith("resource(ServiceRequest).performer[0]")


def test_app5_task_with_another_code_fails() -> None:
    bundle = live_example("REFREQ03")
    of_type(bundle, "Task")[0]["code"]["coding"][0]["code"] = "715537001"
    finding = only(errors(send(bundle, APP5), "app5.referral.task-code"))
    assert "2140231000000104" in finding.message and "715537001" in finding.message


def test_app5_referral_without_a_task_fails_the_task_checks() -> None:
    bundle = live_example("REFREQ03")
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Task"]
    found = errors(send(bundle, APP5), "app5.referral.task")
    assert "the Bundle has 0" in only([f for f in found if f.id == "app5.referral.task"]).message


def test_app5_careplan_must_be_completed() -> None:
    bundle = live_example("REFREQ03")
    of_type(bundle, "CarePlan")[0]["status"] = "active"
    finding = only(errors(send(bundle, APP5), "app5.referral.careplan-status"))
    assert "'active'" in finding.message and finding.location.endswith("resource(CarePlan).status")


def test_app5_encounter_must_be_triaged_or_finished() -> None:
    bundle = live_example("REFREQ03")
    of_type(bundle, "Encounter")[0]["status"] = "planned"
    assert only(errors(send(bundle, APP5), "app5.referral.encounter-status"))


def test_app5_does_not_support_referral_updates() -> None:
    bundle = live_example("REFREQ03")
    bundle["entry"][0]["resource"]["reason"]["coding"][0]["code"] = "update"
    finding = only(errors(send(bundle, APP5), "application.workflow"))
    assert "does not support referral updates" in finding.message


def test_app5_cancellation_is_accepted_as_app5() -> None:
    bundle = live_example("REFREQ03")
    bundle["entry"][0]["resource"]["reason"]["coding"][0]["code"] = "update"
    of_type(bundle, "ServiceRequest")[0]["status"] = "revoked"
    findings = send(bundle, APP5)
    assert errors(findings, "application.workflow") == []
    assert (
        "referral-cancel is part of Application 5"
        in only([f for f in findings if f.id == "application.workflow"]).message
    )


# -- Application 6 ------------------------------------------------------------------------------


def test_app6_referral_without_an_incident_location_fails() -> None:
    bundle = live_example("REFREQ04")
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Location"]
    finding = only(errors(send(bundle, APP6), "app6.referral.incident-location"))
    assert "incident Location" in finding.message and "no Location" in finding.message


def test_app6_referral_without_the_clock_start_fails() -> None:
    bundle = live_example("REFREQ04")
    del of_type(bundle, "CarePlan")[0]["period"]
    finding = only(errors(send(bundle, APP6), "app6.referral.clock-start"))
    assert "T5" in finding.message


def test_app6_update_must_name_the_service_request_it_updates() -> None:
    bundle = live_example("REFREQ8B")
    del of_type(bundle, "ServiceRequest")[0]["id"]
    assert only(errors(send(bundle, APP6), "app6.update.service-request-id"))


def test_app6_scene_safety_flag_missing_is_a_warning() -> None:
    bundle = live_example("REFREQ04")
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Flag"]
    findings = send(bundle, APP6)
    assert only(warnings(findings, "app6.referral.scene-safety"))
    assert errors(findings, "app6.referral.scene-safety") == []


@pytest.mark.parametrize("use_case", ["a6t2", "a6t3"])
def test_call_assist_and_mutual_aid_need_category_text(use_case: str) -> None:
    bundle = live_example("REFREQ04")
    use_case_coding(bundle)["code"] = use_case
    findings = send(bundle, APP6)
    assert only(errors(findings, "app6.referral.category-text"))
    of_type(bundle, "ServiceRequest")[0]["category"][0]["text"] = "Request for a double-crewed ambulance"
    assert errors(send(bundle, APP6), "app6.referral.category-text") == []


def test_out_of_area_referrals_need_no_category_text() -> None:
    assert "app6.referral.category-text" not in app_checks(send(live_example("REFREQ04"), APP6), "app6")


def test_app6_referral_with_the_performer_pointing_elsewhere_fails() -> None:
    bundle = live_example("REFREQ04")
    of_type(bundle, "ServiceRequest")[0]["performer"] = [{"reference": "urn:uuid:00000000-0000-4000-8000-000000000000"}]
    finding = only(errors(send(bundle, APP6), "app6.referral.performer"))
    assert "does not resolve" in finding.message


# -- UCC ---------------------------------------------------------------------------------------


def test_missing_use_context_header_is_an_error() -> None:
    finding = only(errors(send(live_example("REFREQ03"), APP5, use_context=None), "header.use-context"))
    assert "missing" in finding.message and finding.location == "http.use-context"


def test_use_context_of_another_application_is_inconsistent() -> None:
    findings = send(live_example("REFREQ04"), APP6, use_context="a5t1|referral|servicerequest-request|new")
    finding = only(errors(findings, "header.use-context.application"))
    assert "a5t1" in finding.message and "Application 5's" in finding.message and "Application 6" in finding.message


def test_use_context_parts_must_agree_with_the_message() -> None:
    findings = send(live_example("REFREQ8B"), APP6, use_context="a6t1|referral|servicerequest-request|new")
    assert "does not match MessageHeader.reason" in only(errors(findings, "header.use-context.reason")).message


def test_payload_without_a_use_case_is_a_missing_ucc() -> None:
    bundle = live_example("REFREQ03")
    service_request = of_type(bundle, "ServiceRequest")[0]
    for concept in service_request["category"]:
        concept["coding"] = [c for c in concept["coding"] if not c["system"].endswith("usecases-categories-bars")]
    finding = only(errors(send(bundle, APP5, "a5t1|referral|servicerequest-request|new"), "ucc.payload"))
    assert "no use-case category" in finding.message and "a5t1" in finding.message
    assert finding.location.endswith("resource(ServiceRequest).category")


def test_a_use_case_of_another_application_than_the_target_is_inconsistent() -> None:
    # An App 5 referral sent to the App 6 out-of-area service.
    findings = send(live_example("REFREQ03"), APP6)
    finding = only(errors(findings, "ucc.payload"))
    assert "a5t1" in finding.message and "Application 5's" in finding.message
    assert "Judged against Application 6" in judged(findings)


def test_upper_case_use_case_is_a_warning_the_codesystem_is_case_sensitive() -> None:
    # The App 5 page writes A5T1; usecases-categories-bars is case-sensitive with code a5t1.
    bundle = live_example("REFREQ03")
    use_case_coding(bundle)["code"] = "A5T1"
    findings = send(bundle, APP5, "a5t1|referral|servicerequest-request|new")
    finding = only(warnings(findings, "ucc.payload"))
    assert "case-sensitive" in finding.message and "'a5t1'" in finding.message


def test_unknown_use_case_is_an_error() -> None:
    bundle = live_example("REFREQ03")
    use_case_coding(bundle)["code"] = "a9t9"
    finding = only(errors(send(bundle, APP5, "a5t1|referral|servicerequest-request|new"), "ucc.payload"))
    assert "'a9t9'" in finding.message and finding.issue_code == "code-invalid"


def test_deprecated_referraltopharmacy_is_a_warning() -> None:
    bundle = live_example("REFREQ03")
    use_case_coding(bundle)["code"] = "referraltopharmacy"
    findings = send(bundle, APP5)
    assert "deprecated" in only(warnings(findings, "ucc.payload")).message
    assert "Application 5" in judged(findings)


def test_message_definition_search_with_another_applications_use_case_is_flagged() -> None:
    query = {"context": [f"{DOS}|{APP5}", "https://fhir.nhs.uk/CodeSystem/usecases-categories-bars|a6t1"]}
    findings = run(Operation.MESSAGE_DEFINITION_SEARCH, good_headers(APP5), query=query)
    finding = only(failures(findings, "ucc.context"))
    assert finding.severity == "warning" and "a6t1" in finding.message and APP5 in finding.message


def test_message_definition_search_for_app6_is_judged_as_app6() -> None:
    query = {"context": [f"{DOS}|2000159909", "https://fhir.nhs.uk/CodeSystem/usecases-categories-bars|a6t1"]}
    findings = run(Operation.MESSAGE_DEFINITION_SEARCH, good_headers("2000159909"), query=query)
    assert "Judged against Application 6" in judged(findings) and "use case a6t1" in judged(findings)
    assert any(f.id == "ucc.context" and f.passed for f in findings)


# -- the judgement without a dedicated target ---------------------------------------------------


def test_a_multi_application_target_is_judged_by_the_payload_use_case() -> None:
    # 2000076289 is the referral receiver of Applications 1, 2, 3, 5 and 6 (live TKW table).
    message = judged(send(live_example("REFREQ03"), "2000076289"))
    assert "Judged against Application 5" in message and "message's use case a5t1" in message


def test_a_validation_without_any_use_case_is_judged_as_application_4() -> None:
    bundle = live_example("VALREQ03")
    service_request = of_type(bundle, "ServiceRequest")[0]
    for concept in service_request["category"]:
        concept["coding"] = [c for c in concept["coding"] if not c["system"].endswith("usecases-categories-bars")]
    message = judged(send(bundle, "2000099999", "a4t1|validation|servicerequest-request|new"))
    assert "Judged against Application 4" in message and "use case a4t1" in message
