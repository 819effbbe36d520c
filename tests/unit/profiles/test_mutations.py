"""One profile violation per message, of each rule kind: each is found, at the right FHIRPath, naming
the rule, the profile and what was expected. The messages are the IG's own examples (clean before
the mutation, see test_official_examples.py); expected values come from the profiles' definitions."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from bars_support import IG_EXAMPLES

from tkw.profiles import ProfileIssue, validate_body

BARS = "https://fhir.nhs.uk/StructureDefinition/"
UKCORE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"
REFERRAL = "REFREQ01_-_Referral_Service_Request_New_Full_-_111_to_ED.json"
VALIDATION_RESPONSE = "VALRESP02_-_Validation_Response_New_Full_-_CAS_to_999_Finished.json"
BOOKING = "BOOKREQ01_-_Booking_Request_New_Full.json"


@cache
def _original(name: str) -> str:
    return (IG_EXAMPLES / name).read_text(encoding="utf-8")


def message(name: str) -> dict[str, Any]:
    return json.loads(_original(name))


def entry_of(bundle: dict[str, Any], resource_type: str, nth: int = 0) -> tuple[int, dict[str, Any]]:
    resources = [(i, e["resource"]) for i, e in enumerate(bundle["entry"])]
    return [(i, r) for i, r in resources if r["resourceType"] == resource_type][nth]


def scene_safety_flag(bundle: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    flags = [(i, e["resource"]) for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "Flag"]
    return next((i, r) for i, r in flags if BARS + "BARSFlag-scene-safety" in r["meta"]["profile"])


@dataclass(frozen=True)
class Mutation:
    name: str
    example: str
    mutate: Callable[[dict[str, Any]], str]  # changes the Bundle, returns the expected FHIRPath
    rule: str
    severity: str
    code: str
    profile: str


def _service_request_intent(b: dict[str, Any]) -> str:
    i, sr = entry_of(b, "ServiceRequest")
    sr["intent"] = "order"  # a valid request-intent code, but BaRS fixes "plan"
    return f"Bundle.entry[{i}].resource.intent"


def _message_header_reason(b: dict[str, Any]) -> str:
    del b["entry"][0]["resource"]["reason"]
    return "Bundle.entry[0].resource.reason"


def _second_ethnic_category(b: dict[str, Any]) -> str:
    i, patient = entry_of(b, "Patient")
    ethnic = next(e for e in patient["extension"] if e["url"].endswith("Extension-UKCore-EthnicCategory"))
    patient["extension"].append(copy.deepcopy(ethnic))
    return f"Bundle.entry[{i}].resource.extension:ethnicCategory"


def _flag_category_code(b: dict[str, Any]) -> str:
    i, flag = scene_safety_flag(b)
    flag["category"][0]["coding"][0]["code"] = "SG"  # the scene-safety Flag fixes category code SS
    return f"Bundle.entry[{i}].resource.category[0].coding[0].code"


def _flag_code_system(b: dict[str, Any]) -> str:
    i, flag = scene_safety_flag(b)
    flag["code"]["coding"][0]["system"] = "https://example.org/CodeSystem/scene-safety"
    return f"Bundle.entry[{i}].resource.code.coding[0].system"


def _status_outside_required_valueset(b: dict[str, Any]) -> str:
    i, sr = entry_of(b, "ServiceRequest")
    sr["status"] = "pending"  # not in http://hl7.org/fhir/ValueSet/request-status
    return f"Bundle.entry[{i}].resource.status"


def _gender_outside_required_valueset(b: dict[str, Any]) -> str:
    i, patient = entry_of(b, "Patient")
    patient["gender"] = "M"
    return f"Bundle.entry[{i}].resource.gender"


def _unknown_code_of_bars_codesystem(b: dict[str, Any]) -> str:
    header = b["entry"][0]["resource"]
    header["reason"]["coding"][0]["code"] = "renew"  # message-reason-bars has new, update, ...
    return "Bundle.entry[0].resource.reason.coding[0].code"


def _extension_value_of_wrong_type(b: dict[str, Any]) -> str:
    i, patient = entry_of(b, "Patient")
    j, ethnic = next((j, e) for j, e in enumerate(patient["extension"]) if e["url"].endswith("EthnicCategory"))
    ethnic.pop("valueCodeableConcept")
    ethnic["valueString"] = "A"
    return f"Bundle.entry[{i}].resource.extension[{j}].value.ofType(string)"


def _reference_to_wrong_type(b: dict[str, Any]) -> str:
    i, sr = entry_of(b, "ServiceRequest")
    encounter = next(e["fullUrl"] for e in b["entry"] if e["resource"]["resourceType"] == "Encounter")
    sr["subject"] = {"reference": encounter}  # ServiceRequest.subject: Patient | Group | Location | Device
    return f"Bundle.entry[{i}].resource.subject.reference"


def _invariant_patient_contact(b: dict[str, Any]) -> str:
    i, patient = entry_of(b, "Patient")
    patient["contact"] = [{"relationship": [{"text": "neighbour"}]}]  # pat-1: a contact needs some detail
    return f"Bundle.entry[{i}].resource.contact[0]"


def _invariant_period(b: dict[str, Any]) -> str:
    i, sr = entry_of(b, "ServiceRequest")
    sr["occurrencePeriod"] = {"start": "2026-11-26T10:00:00+00:00", "end": "2026-11-26T09:00:00+00:00"}
    return f"Bundle.entry[{i}].resource.occurrence.ofType(Period)"


def _unknown_element(b: dict[str, Any]) -> str:
    i, sr = entry_of(b, "ServiceRequest")
    sr["PatientInstruction"] = "Bring your medication"
    return f"Bundle.entry[{i}].resource.PatientInstruction"


def _choice_type_not_allowed(b: dict[str, Any]) -> str:
    i, sr = entry_of(b, "ServiceRequest")
    sr.pop("occurrencePeriod", None)
    sr["occurrenceString"] = "tomorrow"
    return f"Bundle.entry[{i}].resource.occurrence.ofType(string)"


def _nhs_number_slice_twice(b: dict[str, Any]) -> str:
    i, patient = entry_of(b, "Patient")
    nhs = next(x for x in patient["identifier"] if x["system"] == "https://fhir.nhs.uk/Id/nhs-number")
    patient["identifier"].append(copy.deepcopy(nhs))
    return f"Bundle.entry[{i}].resource.identifier:nhsNumber"


def _bundle_entry_missing_full_url_type(b: dict[str, Any]) -> str:
    del b["type"]
    return "Bundle.type"


MUTATIONS = [
    Mutation(
        "ServiceRequest.intent not plan",
        REFERRAL,
        _service_request_intent,
        "fixed",
        "error",
        "value",
        BARS + "BARSServiceRequest-request-referral",
    ),
    Mutation(
        "MessageHeader.reason missing",
        REFERRAL,
        _message_header_reason,
        "cardinality",
        "error",
        "required",
        BARS + "BARSMessageHeader-servicerequest-request",
    ),
    Mutation(
        "a second ethnic-category extension",
        REFERRAL,
        _second_ethnic_category,
        "slice-cardinality",
        "error",
        "structure",
        UKCORE + "Patient",
    ),
    Mutation(
        "a Flag category code outside its fixed value",
        VALIDATION_RESPONSE,
        _flag_category_code,
        "fixed",
        "error",
        "value",
        BARS + "BARSFlag-scene-safety",
    ),
    Mutation(
        "a Flag code system outside its fixed value",
        VALIDATION_RESPONSE,
        _flag_code_system,
        "fixed",
        "error",
        "value",
        BARS + "BARSFlag-scene-safety",
    ),
    Mutation(
        "a status outside a required ValueSet",
        REFERRAL,
        _status_outside_required_valueset,
        "binding",
        "error",
        "code-invalid",
        BARS + "BARSServiceRequest-request-referral",
    ),
    Mutation(
        "a gender outside a required ValueSet",
        BOOKING,
        _gender_outside_required_valueset,
        "binding",
        "error",
        "code-invalid",
        UKCORE + "Patient",
    ),
    Mutation(
        "a code the BaRS CodeSystem does not define",
        REFERRAL,
        _unknown_code_of_bars_codesystem,
        "code-system",
        "error",
        "code-invalid",
        BARS + "BARSMessageHeader-servicerequest-request",
    ),
    Mutation(
        "an extension value of the wrong type",
        REFERRAL,
        _extension_value_of_wrong_type,
        "type",
        "error",
        "structure",
        "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory",
    ),
    Mutation(
        "a reference to the wrong resource type",
        REFERRAL,
        _reference_to_wrong_type,
        "reference-target",
        "error",
        "structure",
        BARS + "BARSServiceRequest-request-referral",
    ),
    Mutation(
        "an invariant (pat-1) broken",
        BOOKING,
        _invariant_patient_contact,
        "invariant:pat-1",
        "error",
        "invariant",
        UKCORE + "Patient",
    ),
    # per-1 is the Period data type's own invariant: the finding names that definition.
    Mutation(
        "an invariant (per-1) broken",
        REFERRAL,
        _invariant_period,
        "invariant:per-1",
        "error",
        "invariant",
        "http://hl7.org/fhir/StructureDefinition/Period",
    ),
    Mutation(
        "an element no profile defines",
        REFERRAL,
        _unknown_element,
        "unknown-element",
        "error",
        "structure",
        BARS + "BARSServiceRequest-request-referral",
    ),
    Mutation(
        "a choice type the element does not allow",
        REFERRAL,
        _choice_type_not_allowed,
        "type",
        "error",
        "structure",
        BARS + "BARSServiceRequest-request-referral",
    ),
    Mutation(
        "the NHS number slice twice",
        BOOKING,
        _nhs_number_slice_twice,
        "slice-cardinality",
        "error",
        "structure",
        UKCORE + "Patient",
    ),
    Mutation(
        "Bundle.type missing",
        BOOKING,
        _bundle_entry_missing_full_url_type,
        "cardinality",
        "error",
        "required",
        BARS + "BARSBundleMessage",
    ),
]


def _failures(issues: list[ProfileIssue], expression: str, rule: str) -> list[ProfileIssue]:
    return [i for i in issues if i.expression == expression and i.rule == rule]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_each_violation_is_found_where_it_is(mutation: Mutation) -> None:
    bundle = message(mutation.example)
    assert validate_body(bundle).errors == []  # clean before
    expression = mutation.mutate(bundle)
    report = validate_body(bundle)
    found = _failures(report.issues, expression, mutation.rule)
    assert found, [(i.rule, i.expression, i.message) for i in report.issues if i.severity != "information"]
    issue = found[0]
    assert issue.severity == mutation.severity
    assert issue.code == mutation.code
    assert issue.profile == mutation.profile
    assert issue.element and issue.message
    # Nothing else breaks: the one change is the one error (a removed element may fail one more rule).
    assert len({i.expression for i in report.errors}) == 1, [(i.rule, i.expression) for i in report.errors]


def test_fixed_value_says_what_was_expected_and_found() -> None:
    bundle = message(REFERRAL)
    expression = _service_request_intent(bundle)
    (issue,) = _failures(validate_body(bundle).issues, expression, "fixed")
    assert (issue.expected, issue.found) == ("plan", "order")
    assert issue.element == "ServiceRequest.intent"


def test_an_extensible_binding_not_met_is_a_warning() -> None:
    bundle = message(BOOKING)
    i, patient = entry_of(bundle, "Patient")
    patient.setdefault("communication", []).append(
        {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "tlh", "display": "Klingon"}]}}
    )
    report = validate_body(bundle)
    assert report.errors == []
    warned = [w for w in report.issues if w.rule == "binding-extensible"]
    assert any(w.expression.startswith(f"Bundle.entry[{i}].resource.communication[") for w in warned)


def test_a_snomed_binding_is_reported_as_not_checkable_offline() -> None:
    bundle = message(REFERRAL)
    i, allergy = entry_of(bundle, "AllergyIntolerance")
    allergy["reaction"] *= 3  # the same SNOMED CT binding met three times
    report = validate_body(bundle)
    unchecked = [i for i in report.issues if i.rule == "binding-unchecked"]
    assert unchecked and all(i.severity == "information" for i in unchecked)
    assert any("snomed" in i.message.lower() for i in unchecked)
    # The same binding met at many places is one note that counts the others.
    keys = [(i.profile, i.element, i.expected) for i in unchecked]
    assert len(keys) == len(set(keys))
    (folded,) = [u for u in unchecked if u.element == "AllergyIntolerance.reaction.manifestation"]
    assert folded.expression == f"Bundle.entry[{i}].resource.reaction[0].manifestation[0]"
    assert "also at 2 more" in folded.message


def test_an_unknown_claimed_profile_is_a_warning_that_says_so() -> None:
    bundle = message(REFERRAL)
    i, patient = entry_of(bundle, "Patient")
    patient["meta"]["profile"] = ["https://example.org/StructureDefinition/MyPatient"]
    report = validate_body(bundle)
    (issue,) = [w for w in report.issues if w.rule == "profile-unknown"]
    assert issue.severity == "warning"
    assert issue.expression == f"Bundle.entry[{i}].resource.meta.profile"
    assert "https://example.org/StructureDefinition/MyPatient" in issue.message
    # UK Core still applies to the Patient.
    assert (f"Bundle.entry[{i}].resource", [UKCORE + "Patient"]) in report.applied


def test_the_message_definition_focus_profile_applies_without_a_claim() -> None:
    bundle = message(REFERRAL)
    i, sr = entry_of(bundle, "ServiceRequest")
    del sr["meta"]
    sr["intent"] = "order"
    report = validate_body(bundle)
    assert _failures(report.issues, f"Bundle.entry[{i}].resource.intent", "fixed")


def test_repeats_are_collapsed() -> None:
    bundle = message(REFERRAL)
    i, sr = entry_of(bundle, "ServiceRequest")
    sr["intent"] = "order"
    # Claimed twice and named by the MessageDefinition: one finding, not three.
    sr["meta"]["profile"] = [BARS + "BARSServiceRequest-request-referral"] * 2 + [UKCORE + "ServiceRequest"]
    report = validate_body(bundle)
    assert len(_failures(report.issues, f"Bundle.entry[{i}].resource.intent", "fixed")) == 1


def test_known_quirks_are_set_aside_with_their_reason() -> None:
    report = validate_body(message(REFERRAL))
    reasons = {issue.rule: reason for issue, reason in report.suppressed}
    assert "invariant:dom-6" in reasons and "narrative" in reasons["invariant:dom-6"]
    assert not any(i.rule == "invariant:dom-6" for i in report.issues)


def test_every_report_names_the_package_versions() -> None:
    report = validate_body(message(BOOKING))
    assert "uk.nhsdigital.bars.r4#" in report.packages and "hl7.fhir.r4.core#4.0.1" in report.packages


def test_an_extension_with_neither_value_nor_extensions_breaks_ext_1() -> None:
    bundle = message(REFERRAL)
    i, patient = entry_of(bundle, "Patient")
    j, ethnic = next((j, e) for j, e in enumerate(patient["extension"]) if e["url"].endswith("EthnicCategory"))
    ethnic.pop("valueCodeableConcept")
    report = validate_body(bundle)
    where = f"Bundle.entry[{i}].resource.extension[{j}]"
    assert _failures(report.issues, where, "invariant:ext-1")
    # The extension's own definition requires its value too.
    (missing,) = _failures(report.issues, where + ".value", "cardinality")
    assert missing.profile == "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory"
