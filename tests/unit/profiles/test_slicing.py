"""Slicing by each discriminator type FHIR defines (value, pattern, type, profile, exists), closed
slicing and slice cardinality. BaRS and UK Core slice by value only, so these profiles are made here:
base R4 Patient with one slicing added, as a profile author would write it."""

from __future__ import annotations

import copy
import gzip
import json
from functools import cache
from importlib import resources
from typing import Any

from tkw.profiles import validate_body
from tkw.profiles.conformance import Conformance

PATIENT = "http://hl7.org/fhir/StructureDefinition/Patient"
TEST = "https://example.org/StructureDefinition/"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
UKCORE_ORGANIZATION = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Organization"


@cache
def _shipped() -> dict[str, Any]:
    blob = resources.files("tkw.profiles").joinpath("data/conformance.json.gz").read_bytes()
    return json.loads(gzip.decompress(blob))  # type: ignore[no-any-return]


def sliced_patient(name: str, element: str, slicing: dict[str, Any], slices: dict[str, dict[str, Any]]) -> Conformance:
    """Base Patient with ``element`` sliced; each slice a full copy of the element's definitions,
    with ``slices[name]`` overriding fields by element suffix ("" for the slice itself)."""
    data = copy.deepcopy(_shipped())
    base = data["profiles"][PATIENT]
    elements: list[dict[str, Any]] = []
    subtree = [e for e in base["elements"] if e["id"] == element or e["id"].startswith(element + ".")]
    type_code = subtree[0]["type"][0]["code"]
    type_elements = data["profiles"].get("http://hl7.org/fhir/StructureDefinition/" + type_code, {}).get("elements", [])
    if len(subtree) == 1 and type_elements:
        # A snapshot expands the data type of a sliced element whose children it constrains.
        subtree += [
            {**t, "id": element + t["id"][len(type_code) :], "path": element + t["path"][len(type_code) :]}
            for t in type_elements[1:]
        ]
    for e in base["elements"]:
        if e["id"] == element:
            e = {**e, "slicing": slicing}
        elements.append(e)
        if e["id"] == subtree[0]["id"]:
            for slice_name, overrides in slices.items():
                for original in subtree:
                    suffix = original["id"][len(element) :]
                    copied = {**original, "id": f"{element}:{slice_name}{suffix}"}
                    if suffix == "":
                        copied["sliceName"] = slice_name
                    copied.update(overrides.get(suffix, {}))
                    elements.append(copied)
    data["profiles"][TEST + name] = {
        **base, "url": TEST + name, "name": name, "derivation": "constraint", "baseDefinition": PATIENT,
        "elements": elements,
    }  # fmt: skip
    return Conformance(data)


def patient(profile: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "meta": {"profile": [TEST + profile]}, **fields}


def errors(body: dict[str, Any], conf: Conformance) -> set[tuple[str, str]]:
    return {(i.rule, i.expression) for i in validate_body(body, conf).errors}


MRN = {"coding": [{"system": V2_0203, "code": "MR"}]}


def test_pattern_discriminator_closed_slicing_and_slice_minimum() -> None:
    conf = sliced_patient(
        "PatternPatient", "Patient.identifier",
        {"discriminator": [{"type": "pattern", "path": "type"}], "rules": "closed"},
        {"mrn": {"": {"min": 1, "max": "1"}, ".type": {"patternCodeableConcept": MRN}}},
    )  # fmt: skip
    mrn = {"type": {"coding": [{"system": V2_0203, "code": "MR", "display": "Medical record number"}]}, "value": "1"}
    assert errors(patient("PatternPatient", identifier=[mrn]), conf) == set()
    other = {"system": "https://example.org/id", "value": "2"}
    assert errors(patient("PatternPatient", identifier=[mrn, other]), conf) == {
        ("slicing-closed", "Patient.identifier[1]")
    }
    assert errors(patient("PatternPatient", identifier=[other]), conf) == {
        ("slicing-closed", "Patient.identifier[0]"),
        ("slice-cardinality", "Patient.identifier:mrn"),
    }


def test_value_discriminator_and_slice_maximum() -> None:
    conf = sliced_patient(
        "ValuePatient", "Patient.identifier",
        {"discriminator": [{"type": "value", "path": "system"}], "rules": "open"},
        {"local": {"": {"max": "1"}, ".system": {"fixedUri": "https://example.org/Id/local"}}},
    )  # fmt: skip
    local = {"system": "https://example.org/Id/local", "value": "L1"}
    assert errors(patient("ValuePatient", identifier=[local, {"system": "x:y", "value": "1"}]), conf) == set()
    expected = {("slice-cardinality", "Patient.identifier:local")}
    assert errors(patient("ValuePatient", identifier=[local, local]), conf) == expected


def test_exists_discriminator() -> None:
    conf = sliced_patient(
        "ExistsPatient", "Patient.contact",
        {"discriminator": [{"type": "exists", "path": "organization"}], "rules": "open"},
        {"employer": {"": {"max": "1"}, ".organization": {"min": 1}}},
    )  # fmt: skip
    employer = {"organization": {"display": "Acme"}}
    person = {"name": {"text": "A Person"}}
    assert errors(patient("ExistsPatient", contact=[employer, person]), conf) == set()
    assert errors(patient("ExistsPatient", contact=[employer, person, employer]), conf) == {
        ("slice-cardinality", "Patient.contact:employer")
    }


def test_type_discriminator_on_a_choice() -> None:
    conf = sliced_patient(
        "TypePatient", "Patient.deceased[x]",
        {"discriminator": [{"type": "type", "path": "$this"}], "rules": "closed"},
        {"deceasedBoolean": {"": {"type": [{"code": "boolean"}]}}},
    )  # fmt: skip
    assert errors(patient("TypePatient", deceasedBoolean=False), conf) == set()
    assert errors(patient("TypePatient", deceasedDateTime="2020-01-01"), conf) == {
        ("slicing-closed", "Patient.deceasedDateTime")
    }


def test_profile_discriminator_through_resolve() -> None:
    conf = sliced_patient(
        "ProfilePatient", "Patient.generalPractitioner",
        {"discriminator": [{"type": "profile", "path": "resolve()"}], "rules": "open"},
        {"practice": {"": {"min": 1, "type": [{"code": "Reference", "targetProfile": [UKCORE_ORGANIZATION]}]}}},
    )  # fmt: skip

    def bundle(target: dict[str, Any]) -> dict[str, Any]:
        gp = {"reference": "urn:uuid:00000000-0000-4000-8000-000000000002"}
        return {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000001",
                 "resource": patient("ProfilePatient", generalPractitioner=[gp])},
                {"fullUrl": gp["reference"], "resource": target},
            ],
        }  # fmt: skip

    practice = {"resourceType": "Organization", "name": "The Practice"}
    assert not {e for e in errors(bundle(practice), conf) if e[0] == "slice-cardinality"}
    doctor = {"resourceType": "Practitioner", "name": [{"family": "Who"}]}
    assert ("slice-cardinality", "Bundle.entry[0].resource.generalPractitioner:practice") in errors(
        bundle(doctor), conf
    )
