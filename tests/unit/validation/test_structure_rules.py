"""FHIR structure of the $process-message body (fhir.resources R4B), with element paths."""

from __future__ import annotations

import pytest
from bars_support import example, ig_example
from validation_support import errors, failures, good_headers, only, request_for, run, run_message

from tkw.routes import Operation
from tkw.validation import ValidationInput, validate

GOOD = [
    pytest.param(lambda: example("process_message/POST-body.json"), id="POST-body"),
    pytest.param(lambda: example("process_message/request/ValidationRequest_(POST).json"), id="ValidationRequest"),
    pytest.param(lambda: example("process_message/request/ValidationResponse_(POST).json"), id="ValidationResponse"),
    *[pytest.param(lambda n=n: ig_example(n), id=n) for n in ("BOOKREQ01", "REFREQ01", "VALRESP02")],
]


@pytest.mark.parametrize("load", GOOD)
def test_valid_bundles_pass_structure(load) -> None:  # type: ignore[no-untyped-def]
    findings = run_message(load())
    assert failures(findings, "fhir.") == []
    assert any(f.id == "fhir.structure" and f.passed for f in findings)


def test_each_structure_error_names_its_element() -> None:
    bundle = example("process_message/POST-body.json")
    bundle["entry"][2]["resource"]["birthDate"] = "yesterday"
    bundle["entry"][1]["resource"]["colour"] = "blue"
    findings = errors(run_message(bundle), "fhir.structure")
    locations = {f.location for f in findings}
    assert "Bundle.entry[2].resource(Patient).birthDate" in locations
    assert "Bundle.entry[1].resource(Appointment).colour" in locations
    extra = next(f for f in findings if f.location.endswith("colour"))
    assert "not defined in FHIR R4" in extra.message
    assert all(f.issue_code == "structure" for f in findings)


@pytest.mark.parametrize(("raw", "code"), [(b"", "required"), (b"[1, 2]", "invalid"), (b"{not json", "invalid")])
def test_a_body_that_is_not_a_json_object_is_reported(raw: bytes, code: str) -> None:
    findings = run(Operation.PROCESS_MESSAGE, good_headers(**{"Content-Type": "application/fhir+json"}), body=raw)
    assert only(errors(findings, "fhir.body")).issue_code == code


def test_a_resource_that_is_not_a_bundle_is_reported() -> None:
    findings = run(Operation.PROCESS_MESSAGE, body={"resourceType": "Patient"})
    assert "'Patient'" in only(errors(findings, "fhir.body")).message


def test_structure_is_not_parsed_again_when_the_pipeline_already_did(monkeypatch: pytest.MonkeyPatch) -> None:
    from fhir.resources.R4B.bundle import Bundle

    calls = []
    original = Bundle.model_validate.__func__  # type: ignore[attr-defined]

    def counting(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(Bundle, "model_validate", classmethod(counting))
    bundle = example("process_message/POST-body.json")
    request = request_for(Operation.PROCESS_MESSAGE, body=bundle)
    validate(ValidationInput(Operation.PROCESS_MESSAGE, request, bundle))
    assert len(calls) == 1, "the Bundle is parsed exactly once"
    validate(ValidationInput(Operation.PROCESS_MESSAGE, request, bundle, structure_validated=True))
    assert len(calls) == 1, "structure_validated skips the parse"


def test_gets_have_no_body_checks() -> None:
    assert [f for f in run(Operation.SLOT_SEARCH) if f.category == "structure"] == []
