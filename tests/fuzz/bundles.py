"""Hypothesis strategies for ``$process-message`` bodies that get past JSON parsing.

The spec's ``MessageBundle`` schema is thin (``resourceType`` and ``meta``), so schemathesis alone
rarely builds a Bundle the emulator classifies. These start from the official and IG example
bundles and apply a few drawn mutations: the sentinel NHS numbers, event and reason codes, focus
statuses and categories the scenario table decides on, and arbitrary damage (dropped entries,
any leaf replaced by any JSON value).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cache
from typing import Any

from bars_support import example, ig_example
from hypothesis import strategies as st

NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
CODE_SYSTEMS = "https://fhir.nhs.uk/CodeSystem"
# Sentinels of scenarios.yaml and the stateful patient, plus numbers no row names.
NHS_NUMBERS = (
    "9054613556",
    "9976150288",
    "9933902830",
    "9818556143",
    "9618388816",
    "9853944189",
    "9383924314",
    "9010223337",
    "9945210394",
    "9707606312",
    "4857773456",
    "0000000000",
    " 905 461 3556 ",
    "",
)
EVENTS = ("booking-request", "servicerequest-request", "servicerequest-response", "booking-response")
REASONS = ("new", "update", "delete")
STATUSES = ("booked", "cancelled", "entered-in-error", "active", "revoked", "on-hold", "completed", "finished")
CATEGORIES = ("referral", "validation")
SEEDS = (
    ("example", "process_message/POST-body.json"),
    ("ig", "BOOKREQ01"),
    ("ig", "BOOKREQ02"),
    ("ig", "REFREQ01"),
    ("ig", "REFREQ02"),
    ("ig", "SERVREQ01"),
    ("ig", "VALREQ01"),
    ("ig", "REFRESP01"),
    ("ig", "VALRESP01A"),
    ("example", "process_message/request/ValidationResponse_(POST).json"),
)

Draw = Callable[[st.SearchStrategy[Any]], Any]

json_leaves: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.integers(min_value=70_000, max_value=70_001).map(lambda n: "x" * n),  # a short repr, a long string
)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@cache
def _seed(kind: str, name: str) -> dict[str, Any]:
    return example(name) if kind == "example" else ig_example(name)


def _resources(bundle: dict[str, Any], *types: str) -> list[dict[str, Any]]:
    """The entries' resources (of ``types``), whatever earlier mutations did to the Bundle."""
    entries = bundle.get("entry")
    found = []
    for entry in entries if isinstance(entries, list) else []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and (not types or resource.get("resourceType") in types):
            found.append(resource)
    return found


def _header(bundle: dict[str, Any]) -> dict[str, Any]:
    headers = _resources(bundle, "MessageHeader")
    return headers[0] if headers else {}


def _set_nhs_number(draw: Draw, bundle: dict[str, Any]) -> None:
    number = draw(st.sampled_from(NHS_NUMBERS) | st.from_regex(r"\A[0-9]{10}\Z"))
    for patient in _resources(bundle, "Patient"):
        identifiers = patient.get("identifier")
        for ident in identifiers if isinstance(identifiers, list) else []:
            if isinstance(ident, dict) and ident.get("system") == NHS_SYSTEM:
                ident["value"] = number


def _drop_nhs_number(draw: Draw, bundle: dict[str, Any]) -> None:
    for patient in _resources(bundle, "Patient"):
        patient.pop("identifier", None)


def _set_event(draw: Draw, bundle: dict[str, Any]) -> None:
    code = draw(st.sampled_from(EVENTS) | st.text(max_size=10))
    _header(bundle)["eventCoding"] = {"system": f"{CODE_SYSTEMS}/message-events-bars", "code": code}


def _set_reason(draw: Draw, bundle: dict[str, Any]) -> None:
    code = draw(st.sampled_from(REASONS) | st.text(max_size=6))
    _header(bundle)["reason"] = {"coding": [{"system": f"{CODE_SYSTEMS}/message-reason-bars", "code": code}]}


def _set_status(draw: Draw, bundle: dict[str, Any]) -> None:
    status = draw(st.sampled_from(STATUSES))
    for resource in _resources(bundle, "Appointment", "ServiceRequest", "Encounter"):
        resource["status"] = status


def _set_category(draw: Draw, bundle: dict[str, Any]) -> None:
    code = draw(st.sampled_from(CATEGORIES) | st.text(max_size=6))
    for resource in _resources(bundle, "ServiceRequest"):
        coding = {"system": f"{CODE_SYSTEMS}/message-category-servicerequest", "code": code}
        resource["category"] = [{"coding": [coding]}]


def _set_response(draw: Draw, bundle: dict[str, Any]) -> None:
    _header(bundle)["response"] = draw(
        st.fixed_dictionaries({"identifier": st.uuids().map(str) | st.text(max_size=8), "code": st.just("ok")})
        | json_values
    )


def _break_focus(draw: Draw, bundle: dict[str, Any]) -> None:
    _header(bundle)["focus"] = draw(
        st.lists(st.fixed_dictionaries({"reference": st.text(max_size=12)}), max_size=2) | json_values
    )


def _drop_entry(draw: Draw, bundle: dict[str, Any]) -> None:
    entries = bundle.get("entry")
    if isinstance(entries, list) and entries:
        del entries[draw(st.integers(min_value=0, max_value=len(entries) - 1))]


def _move_header_last(draw: Draw, bundle: dict[str, Any]) -> None:
    entries = bundle.get("entry")
    if isinstance(entries, list) and entries:
        entries.append(entries.pop(0))


def _set_bundle_type(draw: Draw, bundle: dict[str, Any]) -> None:
    bundle["type"] = draw(st.sampled_from(["message", "collection", "searchset", "batch"]) | json_leaves)


def _replace_leaf(draw: Draw, bundle: dict[str, Any]) -> None:
    """Any value anywhere in the Bundle becomes any JSON value."""
    slots: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            slots.append((node, key))
            walk(value)

    walk(bundle)
    if slots:
        parent, key = slots[draw(st.integers(min_value=0, max_value=len(slots) - 1))]
        parent[key] = draw(json_values)


MUTATIONS = (
    _set_nhs_number,
    _set_nhs_number,
    _drop_nhs_number,
    _set_event,
    _set_reason,
    _set_status,
    _set_status,
    _set_category,
    _set_response,
    _break_focus,
    _drop_entry,
    _move_header_last,
    _set_bundle_type,
    _replace_leaf,
    _replace_leaf,
)


@st.composite
def message_bundles(draw: Draw, seeds: tuple[tuple[str, str], ...] = SEEDS, max_mutations: int = 4) -> dict[str, Any]:
    """An official or IG message Bundle (one of ``seeds``) after up to ``max_mutations`` drawn mutations."""
    bundle = copy.deepcopy(_seed(*draw(st.sampled_from(seeds))))
    for mutation in draw(st.lists(st.sampled_from(MUTATIONS), max_size=max_mutations)):
        mutation(draw, bundle)
    return bundle
