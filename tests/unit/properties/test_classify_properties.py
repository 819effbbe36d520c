"""Property tests of ``tkw.scenarios.classify.classify``: any Bundle-shaped dict is classified or
refused with 400 REC_BAD_REQUEST, the same way every time, without touching the Bundle.

Three sources of input: dicts built from the words classification reads (so the generator
reaches deep into the decision table), the official and IG message Bundles after drawn mutations
(``fuzz.bundles``), and arbitrary JSON under a Bundle's keys.
"""

from __future__ import annotations

import copy
from typing import Any

from fuzz.bundles import EVENTS, REASONS, STATUSES, json_values, message_bundles
from hypothesis import given, settings
from hypothesis import strategies as st

from tkw.fhir.outcome import BarsError
from tkw.message_kinds import NHS_NUMBER_SYSTEM
from tkw.scenarios.classify import Classification, classify

RESOURCE_TYPES = ("MessageHeader", "Appointment", "ServiceRequest", "Encounter", "Patient", "Organization")
SYSTEMS = (NHS_NUMBER_SYSTEM, "http://fhir.nhs.uk/Id/nhs-number/", "HTTPS://FHIR.NHS.UK/ID/NHS-NUMBER", "other")


def mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``valid`` about three times in four, any JSON value otherwise."""
    return st.integers(min_value=0, max_value=3).flatmap(lambda i: json_values if i == 3 else valid)


codings = st.fixed_dictionaries({"code": st.sampled_from((*EVENTS, *REASONS, "referral", "validation")) | json_values})
concepts = st.fixed_dictionaries({"coding": st.lists(codings, max_size=2) | codings}) | json_values
references = st.fixed_dictionaries(
    {"reference": st.sampled_from(("urn:uuid:1", ":uuid:2", "Patient/p", "Appointment/a", "x")) | json_values}
)


@st.composite
def resources(draw: Any, resource_type: str | None = None) -> dict[str, Any]:
    kind = resource_type or draw(st.sampled_from(RESOURCE_TYPES[1:]) | json_values)
    resource: dict[str, Any] = {"resourceType": kind}
    fields = {
        "id": mostly(st.sampled_from(("p", "a", "1"))),
        "status": mostly(st.sampled_from(STATUSES)),
        "eventCoding": mostly(codings),
        "eventUri": mostly(st.sampled_from(("https://x/booking-request", "/", ""))),
        "reason": concepts,
        "focus": mostly(st.lists(references, max_size=2) | references),
        "category": st.lists(concepts, max_size=2) | concepts,
        "definition": mostly(st.sampled_from(("https://fhir.nhs.uk/MessageDefinition/referral", ""))),
        "response": mostly(st.fixed_dictionaries({"identifier": mostly(st.text(max_size=5))})),
        "subject": mostly(references),
        "participant": st.lists(mostly(st.fixed_dictionaries({"actor": references})), max_size=2),
        "identifier": mostly(
            st.lists(
                st.fixed_dictionaries(
                    {"system": mostly(st.sampled_from(SYSTEMS)), "value": mostly(st.from_regex(r"\A ?\d{10} ?\Z"))}
                ),
                max_size=2,
            )
        ),
    }
    wanted = ("eventCoding", "focus", "reason") if resource_type == "MessageHeader" else ("status",)
    chosen = draw(st.lists(st.sampled_from(sorted(fields)), unique=True, max_size=6))
    for name in (*[w for w in wanted if draw(st.integers(0, 4))], *chosen):  # the usual fields, mostly
        resource[name] = draw(fields[name])
    return resource


def entries(resource_type: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"resource": mostly(resources()) if resource_type is None else resources(resource_type)},
        optional={"fullUrl": st.sampled_from(("urn:uuid:1", "urn:uuid:2", "uuid:1", "Patient/p")) | json_values},
    )


built_bundles = st.builds(
    lambda kind, head, rest, extra: {"resourceType": "Bundle", "type": kind, "entry": [*head, *rest], **extra},
    mostly(st.sampled_from(("message", "message", "message", "collection"))),
    st.sampled_from((1, 1, 0)).flatmap(lambda n: st.lists(entries("MessageHeader"), min_size=n, max_size=n)),
    st.lists(entries() | json_values, max_size=5),
    st.dictionaries(st.sampled_from(("id", "meta")), json_values, max_size=2),
)
junk_bundles = st.dictionaries(
    st.sampled_from(("type", "entry", "id", "meta", "resourceType")), json_values, max_size=5
).map(lambda d: {**d, "resourceType": "Bundle"})
any_bundles = built_bundles | message_bundles() | junk_bundles


def outcome_of(bundle: dict[str, Any]) -> Classification | BarsError:
    try:
        return classify(bundle)
    except BarsError as err:
        return err


@settings(max_examples=300, deadline=None)
@given(any_bundles)
def test_classify_answers_or_refuses_with_400_only(bundle: dict[str, Any]) -> None:
    pristine = copy.deepcopy(bundle)
    first = outcome_of(bundle)  # anything but a BarsError propagates and fails the test
    assert bundle == pristine, "classify must not change the Bundle"
    if isinstance(first, BarsError):
        assert first.status == 400
        assert [i.bars_code for i in first.issues] == ["REC_BAD_REQUEST"]
        assert first.issues[0].code == "invariant" and first.issues[0].diagnostics
        return
    entries = bundle["entry"] if isinstance(bundle["entry"], list) else [bundle["entry"]]
    assert entries[first.focus_index]["resource"] is first.focus
    assert first.focus_type == first.focus["resourceType"]
    assert first.nhs_number is None or (first.nhs_number.strip() and " " not in first.nhs_number)


@settings(max_examples=200, deadline=None)
@given(any_bundles)
def test_classify_is_deterministic(bundle: dict[str, Any]) -> None:
    first, second = outcome_of(bundle), outcome_of(copy.deepcopy(bundle))
    if isinstance(first, BarsError):
        assert isinstance(second, BarsError) and str(first) == str(second)
    else:
        assert first == second
