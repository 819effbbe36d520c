"""The rule registry, the engine's robustness, and strict mode's OperationOutcome."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bars_support import assert_outcome, assert_valid_fhir, example, with_use_case
from validation_support import good_headers, request_for, run, run_message

from tkw.routes import Operation
from tkw.validation import RULES, Finding, engine, strict_mode_error, validate, verdict_of
from tkw.validation.context import ValidationContext, ValidationInput
from tkw.validation.registry import Rule


def test_rules_are_named_once_and_described() -> None:
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    assert all(rule.summary and rule.operations for rule in RULES)


@pytest.mark.parametrize(
    "operation", [Operation.PROCESS_MESSAGE, Operation.SLOT_SEARCH, Operation.METADATA, Operation.SERVICE_REQUEST_READ]
)
def test_only_the_transaction_rules_read_the_transaction_ids(operation: Operation) -> None:
    # Report production shares the other rules' findings between requests that differ only in
    # X-Request-Id, X-Correlation-Id and whether the id was used before (tkw.validation.engine.content_key).
    body = with_use_case(example("process_message/POST-body.json")) if operation is Operation.PROCESS_MESSAGE else None
    variants = [
        good_headers(),
        good_headers(X_Request_Id="not-a-uuid", X_Correlation_Id=None),
        good_headers(X_Request_Id=None, X_Correlation_Id="   "),
    ]
    content: list[list[Finding]] = []
    for seen_before, headers in zip((False, True, False), variants, strict=True):
        inp = ValidationInput(operation, request_for(operation, headers, body=body), body, seen_before=seen_before)
        content.append(engine.run_rules(ValidationContext(inp), engine.CONTENT_RULES))
        assert validate(inp) == engine.run_rules(ValidationContext(inp), engine.TRANSACTION_RULES) + content[-1]
        assert engine.content_key(inp) == engine.content_key(
            ValidationInput(operation, request_for(operation, variants[0], body=body), body)
        )
    assert content[0] == content[1] == content[2]
    assert {rule.id for rule in engine.TRANSACTION_RULES} == {"header.transaction", "header.x-request-id.duplicate"}


def test_the_content_key_covers_every_other_header_the_query_and_the_body() -> None:
    def key(headers: dict[str, str], query: dict[str, str | list[str]] | None = None, body: bytes = b"{}") -> bytes:
        request = request_for(Operation.PROCESS_MESSAGE, headers, query, body)
        return engine.content_key(ValidationInput(Operation.PROCESS_MESSAGE, request))

    base = key(good_headers())
    assert base == key(good_headers())  # fresh transaction ids: the same content
    assert base != key(good_headers(target_value="2000072489"))
    assert base != key(good_headers(Accept=None))
    assert base != key(good_headers(), {"_format": "json"})
    assert base != key(good_headers(), body=b"{ }")


def test_ping_is_not_validated() -> None:
    assert run(Operation.PING) == []


def test_every_finding_says_where_and_why() -> None:
    bundle = example("process_message/POST-body.json")
    bundle["type"] = "batch"
    findings = run_message(bundle, Accept=None) + run(Operation.SLOT_SEARCH, good_headers(), {})
    for finding in findings:
        assert finding.message.strip()
        if not finding.passed and finding.severity == "error":
            assert finding.location, finding


def test_a_crashing_rule_becomes_a_note_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ctx: ValidationContext) -> Iterator[Finding]:
        raise RuntimeError("boom")
        yield  # pragma: no cover

    rule = Rule("test.broken", "message", "a rule that crashes", frozenset({Operation.SLOT_SEARCH}), broken)
    monkeypatch.setattr(engine, "RULES", (*engine.RULES, rule))
    findings = validate(ValidationInput(Operation.SLOT_SEARCH, request_for(Operation.SLOT_SEARCH)))
    crashed = [f for f in findings if f.id == "test.broken"]
    assert len(crashed) == 1 and crashed[0].severity == "info" and not crashed[0].passed
    assert "a rule that crashes" in crashed[0].message


def test_verdict() -> None:
    def finding(severity: str, passed: bool) -> Finding:
        return Finding(id="x", category="headers", severity=severity, passed=passed, message="m")  # type: ignore[arg-type]

    assert verdict_of([]) == "pass"
    assert verdict_of([finding("error", True), finding("info", False)]) == "pass"
    assert verdict_of([finding("warning", False), finding("error", True)]) == "warnings"
    assert verdict_of([finding("warning", False), finding("error", False)]) == "fail"


def test_strict_mode_passes_clean_requests() -> None:
    findings = run_message(with_use_case(example("process_message/POST-body.json")))
    assert strict_mode_error(findings) is None, "warnings alone never fail a request"


def test_strict_mode_is_400_rec_bad_request_with_an_issue_per_error() -> None:
    bundle = with_use_case(example("process_message/POST-body.json"))
    bundle["type"] = "batch"
    del bundle["meta"]["versionId"]
    findings = run_message(bundle, **{"X-Request-Id": "not-a-uuid"})
    error = strict_mode_error(findings)
    assert error is not None and error.status == 400
    outcome = error.outcome()
    assert_valid_fhir(outcome)
    assert_outcome(outcome, "REC_BAD_REQUEST")
    failed = [f for f in findings if not f.passed and f.severity == "error"]
    assert len(outcome["issue"]) == len(failed) == 3
    by_expression = {i["expression"][0]: i for i in outcome["issue"]}
    assert set(by_expression) == {"Bundle.type", "Bundle.meta.versionId", "http.X-Request-Id"}
    assert by_expression["http.X-Request-Id"]["location"] == ["http.X-Request-Id"]
    assert by_expression["http.X-Request-Id"]["code"] == "value"
    assert by_expression["Bundle.meta.versionId"]["code"] == "invariant"
    assert all(i["details"]["coding"][0]["code"] == "REC_BAD_REQUEST" for i in outcome["issue"])
    assert "[message.bundle.type]" in by_expression["Bundle.type"]["diagnostics"]


def test_strict_mode_reports_a_duplicate_request_id() -> None:
    findings = run(Operation.SLOT_SEARCH, good_headers(), {"status": "free"}, seen_before=True)
    error = strict_mode_error(findings)
    assert error is not None
    assert any(i.code == "duplicate" for i in error.issues)
