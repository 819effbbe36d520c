"""The report record: what it keeps, what it redacts, and its verdict."""

from __future__ import annotations

from datetime import UTC, datetime

from reports_support import booking_exchange, booking_report

from tkw.encoded_headers import TargetIdentifier
from tkw.http import ApiResponse
from tkw.reports import ReportRecord, build_report
from tkw.reports.model import REDACTED
from tkw.validation import Finding


def test_record_keeps_the_exchange() -> None:
    record = booking_report()
    x = record.exchange
    assert (x.method, x.path, x.response_status) == ("POST", "/booking-and-referral/FHIR/R4/$process-message", 200)
    assert '"resourceType": "Bundle"' in (x.request_body or "")
    assert '"resourceType":"Bundle"' in (x.response_body or "")
    assert x.request_headers["content-type"] == ["application/fhir+json"]
    assert record.target == "https://fhir.nhs.uk/Id/dos-service-id|111111111"
    assert record.operation == "process-message"
    assert record.scenario == "booking-new"
    assert record.organisation == "A1001"
    assert record.request_id == x.request_headers["x-request-id"][0]
    assert record.correlation_id == x.request_headers["x-correlation-id"][0]


def test_authorization_is_redacted_but_its_scheme_kept() -> None:
    record = booking_report()
    assert record.exchange.request_headers["authorization"] == [f"Bearer {REDACTED}"]
    assert "s3cr3t" not in record.to_json()


def test_other_credentials_are_redacted() -> None:
    request, response, _ = booking_exchange(apikey="k3y-value", Cookie="session=abc")
    record = build_report(request=request, response=response, findings=[], organisation="A1001")
    assert record.exchange.request_headers["apikey"] == [REDACTED]
    assert record.exchange.request_headers["cookie"] == [REDACTED]


def test_verdict_and_counts_follow_the_findings() -> None:
    clean, broken = booking_report(), booking_report(broken=True)
    assert clean.verdict == "warnings"  # the official example's http:// DoS system
    assert clean.counts.errors == 0 and clean.counts.warnings >= 1 and clean.counts.passed > 10
    assert broken.verdict == "fail"
    assert broken.counts.errors >= 2
    assert broken.failures[0].severity == "error"


def test_time_comes_from_api_gateway_when_not_given() -> None:
    request, response, _ = booking_exchange()
    record = build_report(request=request, response=response, findings=[], organisation="A1001")
    assert record.time == datetime(2026, 1, 1, tzinfo=UTC)
    assert record.verdict == "pass"


def test_json_round_trip() -> None:
    record = booking_report(broken=True)
    again = ReportRecord.from_json(record.to_json())
    assert again == record
    assert isinstance(again.findings[0], Finding)


def test_empty_response_body_is_recorded_as_none() -> None:
    request, _, _ = booking_exchange()
    record = build_report(request=request, response=ApiResponse(408, None), findings=[], organisation="A1001")
    assert record.exchange.response_body is None
    assert record.exchange.response_status == 408


def test_the_record_says_which_application_and_use_case_it_judged_and_why() -> None:
    # The booking is sent with use-context a1t1 and Appointment.serviceCategory a1t1 to 111111111,
    # a service TKW does not know: the payload's use case decides (a1t1 is Application 1's).
    record = booking_report()
    judged = record.judged_against
    assert judged is not None
    assert (judged.application, judged.use_case, judged.workflow) == (1, "a1t1", "booking-new")
    assert "a1t1" in judged.why
    again = ReportRecord.from_json(record.to_json())
    assert again.judged_against == judged


def test_an_app5_target_is_named_in_the_judgement() -> None:
    request, response, _ = booking_exchange()
    record = build_report(
        request=request,
        response=response,
        findings=[],
        organisation="A1001",
        operation="metadata",
        target=TargetIdentifier("https://fhir.nhs.uk/Id/dos-service-id", "2000070513"),
    )
    assert record.judged_against is not None and record.judged_against.application == 5
    assert "2000070513" in record.judged_against.why
