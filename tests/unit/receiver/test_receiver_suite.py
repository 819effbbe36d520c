"""The suites as data: one per BaRS Application, what each holds, what loading refuses, what is sent."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest
import yaml
from bars_support import assert_valid_fhir
from pydantic import ValidationError

from tkw.receiver import paths
from tkw.receiver.builder import RequestBuilder, focus_of
from tkw.receiver.suite import Suite, SuiteDataError, assemble, load_suite, parse_suite

# The use-case category of each Application (IG: usecases-categories-bars; the Application pages).
USE_CASES = {"1": "a1t1", "3": "a3t1", "4": "a4t1", "5": "a5t1", "6": "a6t1"}
# Each Application's happy path after CapabilityStatement and MessageDefinition, in workflow order.
WORKFLOWS = {
    "1": [
        "slot-search",
        "booking-new",
        "booking-get",
        "booking-cancel",
        "referral-new",
        "referral-get",
        "referral-cancel",
    ],
    "3": ["referral-new", "referral-get", "referral-cancel"],
    "4": ["validation-new", "validation-get", "validation-update", "validation-cancel"],
    "5": ["referral-new", "referral-get", "referral-cancel"],
    "6": [
        "referral-initial",
        "referral-update-2",
        "referral-update-3",
        "referral-final-update",
        "referral-get",
        "referral-cancel",
    ],
}
# The refusals of every error suite and the answer expected (BARS-API.md §3.2, §5.2, §6.2).
REFUSALS = {
    "missing-x-request-id": (400, "REC_BAD_REQUEST"),
    "malformed-x-request-id": (400, "REC_BAD_REQUEST"),
    "missing-x-correlation-id": (400, "REC_BAD_REQUEST"),
    "reused-x-request-id": (409, "REC_CONFLICT"),
    "unsupported-accept-version": (406, "REC_NOT_ACCEPTABLE"),
    "missing-use-context": (400, "REC_BAD_REQUEST"),
    "malformed-use-context": (400, "REC_BAD_REQUEST"),
    "use-context-of-another-application": (400, "REC_BAD_REQUEST"),
    "missing-ucc": (400, "REC_BAD_REQUEST"),
    "unknown-ucc": (400, "REC_BAD_REQUEST"),
    "same-bundle-id": (409, "REC_CONFLICT"),
    "destination-not-this-service": (400, "REC_BAD_REQUEST"),
    "unknown-message-definition": (400, "REC_BAD_REQUEST"),
    "wrong-event": (400, "REC_BAD_REQUEST"),
    "malformed-json": (400, "REC_BAD_REQUEST"),
    "non-fhir-body": (400, "REC_BAD_REQUEST"),
    "invalid-message-bundle": (400, "REC_BAD_REQUEST"),
    "message-definition-without-context": (400, "REC_BAD_REQUEST"),
    "unknown-id": (404, "REC_NOT_FOUND"),
    "wrong-method": (405, "REC_METHOD_NOT_ALLOWED"),
}
CAPTURES = {
    "booking_id": "b-1",
    "referral_id": "r-1",
    "validation_id": "v-1",
    "slot_id": "slot001",
    "free_slot_start": "2026-12-01T10:00:00+00:00",
    "free_slot_end": "2026-12-01T10:10:00+00:00",
}


def local(test_id: str) -> str:
    return test_id.split("-", 1)[1]


@pytest.mark.parametrize("application", sorted(USE_CASES))
def test_each_happy_path_starts_with_capability_then_the_ucc_message_definition(application: str) -> None:
    suite = load_suite()
    happy = [t for t in suite.tests if t.application == application and t.suite == "happy"]
    assert [local(t.id) for t in happy] == ["capability-statement", "message-definition", *WORKFLOWS[application]]
    search = happy[1].request
    assert (search.method, search.path) == ("GET", "/MessageDefinition")
    assert [(q.name, q.value) for q in search.query] == [
        ("context", "${target_token}"),
        ("context", f"https://fhir.nhs.uk/CodeSystem/usecases-categories-bars|{USE_CASES[application]}"),
    ]
    assert suite.application(application).use_case == USE_CASES[application]


@pytest.mark.parametrize("application", sorted(USE_CASES))
def test_each_step_depends_on_the_one_before_and_ids_flow_forward(application: str) -> None:
    suite = load_suite()
    steps = [f"a{application}-{s}" for s in WORKFLOWS[application]]
    chains = [t.id for t in suite.select([steps[-1]])]
    assert chains[-1] == steps[-1]
    assert set(chains) <= {f"a{application}-{s}" for s in WORKFLOWS[application]}
    creators = [t for t in suite.tests if t.application == application and t.expect.capture]
    assert creators, "the Application's first message captures the id the receiver assigns"


def test_the_booking_uses_the_slot_the_search_offered() -> None:
    suite = load_suite()
    booking = suite.test("a1-booking-new")
    assert booking.depends_on == ["a1-slot-search"]
    assert set(suite.test("a1-slot-search").expect.capture) == {"slot_id", "free_slot_start", "free_slot_end"}
    assert suite.test("a1-booking-get").request.path == "/Appointment/${booking_id}"


@pytest.mark.parametrize("application", sorted(USE_CASES))
def test_every_error_suite_names_the_refusal_expected(application: str) -> None:
    suite = load_suite()
    errors = {local(t.id): t.expect for t in suite.tests if t.application == application and t.suite == "error"}
    assert {k: (e.status, e.bars_code) for k, e in errors.items() if k in REFUSALS} == REFUSALS
    assert all(e.bars_code and e.resource_type == "OperationOutcome" for e in errors.values())
    if application == "1":
        assert (errors["unknown-appointment-id"].status, errors["unknown-appointment-id"].bars_code) == (
            404,
            "REC_NOT_FOUND",
        )


def _builder() -> RequestBuilder:
    return RequestBuilder(suite=load_suite(), endpoint="https://receiver.example/FHIR/R4", target="2000072489")


def _sent(test_id: str) -> dict[str, Any]:
    body = _builder().build(load_suite().test(test_id), CAPTURES, {}).body
    assert body is not None
    loaded: dict[str, Any] = json.loads(body)
    return loaded


@pytest.mark.parametrize(
    "test_id", [t.id for t in load_suite().tests if t.suite == "happy" and t.request.payload], ids=str
)
def test_every_happy_message_carries_a_use_context_that_agrees_with_it(test_id: str) -> None:
    """use-context = <UCC>|<category>|<event>|<reason> (BARS-API.md §3.1), matching the MessageHeader."""
    suite = load_suite()
    test = suite.test(test_id)
    request = _builder().build(test, CAPTURES, {})
    bundle = json.loads(request.body or b"")
    header = bundle["entry"][0]["resource"]
    use_case, category, event, reason = (request.header("use-context") or "").split("|")
    assert use_case == USE_CASES[test.application]
    assert event == header["eventCoding"]["code"]
    assert reason == header["reason"]["coding"][0]["code"]
    focus = focus_of(bundle)
    assert focus is not None
    codes = [c["code"] for concept in focus.get("category", []) for c in concept["coding"]]
    assert category in codes or (category == "booking" and focus["resourceType"] == "Appointment")
    ucc = [
        c["code"] for concept in focus.get("category", []) + focus.get("serviceCategory", []) for c in concept["coding"]
    ]
    assert use_case in ucc


@pytest.mark.parametrize(
    "test_id", [t.id for t in load_suite().tests if t.request.payload and not t.id.endswith("same-bundle-id")], ids=str
)
def test_every_message_sent_is_valid_fhir_with_a_fresh_bundle_id(test_id: str) -> None:
    suite = load_suite()
    request = _builder().build(suite.test(test_id), CAPTURES, {})
    bundle = json.loads(request.body or b"")
    # What the happy paths send conforms to the profiles; error tests may break them on purpose.
    assert_valid_fhir(bundle, profiles=suite.test(test_id).suite == "happy")
    assert bundle["type"] == "message"
    assert bundle["id"] == request.bundle_id
    endpoint = bundle["entry"][0]["resource"]["destination"][0]["endpoint"]
    if local(test_id) == "destination-not-this-service":
        assert endpoint == "https://fhir.nhs.uk/Id/dos-service-id|0000000000"
    else:
        assert endpoint == "https://fhir.nhs.uk/Id/dos-service-id|2000072489"
    for patient in (e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"):
        number = paths.get(patient, "identifier[system=https://fhir.nhs.uk/Id/nhs-number].value")
        assert number in (paths.MISSING, suite.nhs_number)  # the CAD initial example has none
    assert focus_of(bundle) is not None


@pytest.mark.parametrize(
    ("test_id", "wanted_id", "status"),
    [
        ("a1-booking-cancel", "b-1", "cancelled"),
        ("a1-referral-cancel", "r-1", "revoked"),
        ("a3-referral-cancel", "r-1", "revoked"),
        ("a4-validation-update", "v-1", "active"),
        ("a4-validation-cancel", "v-1", "revoked"),
        ("a5-referral-cancel", "r-1", "revoked"),
        ("a6-referral-update-2", "r-1", "active"),
        ("a6-referral-final-update", "r-1", "active"),
        ("a6-referral-cancel", "r-1", "revoked"),
    ],
)
def test_updates_and_cancellations_name_the_resource_the_receiver_created(
    test_id: str, wanted_id: str, status: str
) -> None:
    bundle = _sent(test_id)
    focus = focus_of(bundle)
    assert focus is not None
    assert (focus["id"], focus["status"]) == (wanted_id, status)
    assert bundle["entry"][0]["resource"]["reason"]["coding"][0]["code"] == "update"


def test_the_error_variants_change_only_what_they_test() -> None:
    ucc_less = focus_of(_sent("a5-missing-ucc"))
    assert ucc_less is not None
    assert [c["code"] for concept in ucc_less["category"] for c in concept["coding"]] == ["referral"]
    wrong = _sent("a5-wrong-event")["entry"][0]["resource"]
    assert wrong["eventCoding"]["code"] == "booking-response"
    unknown = _sent("a4-unknown-message-definition")["entry"][0]["resource"]
    assert unknown["definition"] == "https://fhir.nhs.uk/MessageDefinition/bars-message-unknown"


def test_selection_by_application_and_suite() -> None:
    suite = load_suite()
    happy5 = [t.id for t in suite.select(None, "5", ["happy"])]
    assert happy5 == [
        "a5-capability-statement",
        "a5-message-definition",
        "a5-referral-new",
        "a5-referral-get",
        "a5-referral-cancel",
    ]
    errors6 = suite.select(None, "6", ["error"])
    # Error tests that resend the new message bring in the happy test that sent it first.
    assert {t.suite for t in errors6} == {"error", "happy"}
    assert {t.id for t in errors6 if t.suite == "happy"} == {"a6-referral-initial"}
    both = suite.select(None, "4")
    assert {t.application for t in both} == {"4"} and {t.suite for t in both} == {"happy", "error"}
    assert [t.id for t in suite.select(["a1-booking-cancel"])] == [
        "a1-slot-search",
        "a1-booking-new",
        "a1-booking-get",
        "a1-booking-cancel",
    ]
    assert [t.id for t in suite.select(None)] == suite.ids
    with pytest.raises(KeyError, match="nope"):
        suite.select(["nope"])
    with pytest.raises(ValueError, match="a1-booking-new"):
        suite.select(["a1-booking-new"], "5")


def _raw() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    root = resources.files("tkw.receiver")
    common = yaml.safe_load(root.joinpath("suite.yaml").read_text())
    apps = [
        yaml.safe_load(f.read_text())
        for f in sorted(root.joinpath("applications").iterdir(), key=lambda f: f.name)
        if f.name.endswith(".yaml")
    ]
    return common, apps


def _app(apps: list[dict[str, Any]], application: str) -> dict[str, Any]:
    return next(a for a in apps if a["application"]["id"] == application)


@pytest.mark.parametrize(
    ("mutate", "complaint"),
    [
        (lambda c, a: _app(a, "5")["happy"].append(copy.deepcopy(_app(a, "5")["happy"][0])), "is used twice"),
        (lambda c, a: _app(a, "5")["happy"][0].update(depends_on=["referral-get"]), "must name an earlier test"),
        (
            lambda c, a: _app(a, "5")["happy"][0]["request"].update(headers={"X-Thing": "${nobody_captures_this}"}),
            "neither built in",
        ),
        (
            lambda c, a: _app(a, "5")["messages"]["primary"].update(payload="no-such-file.json"),
            "is not in tkw/receiver/payloads",
        ),
        (lambda c, a: _app(a, "5")["happy"][0]["expect"].update(stauts=200), "stauts"),
        (lambda c, a: _app(a, "5")["happy"][0].update(id="Not An Id"), "id"),
    ],
)
def test_suite_data_errors_fail_at_load_with_the_reason(mutate: Any, complaint: str) -> None:
    common, apps = _raw()
    mutate(common, apps)
    with pytest.raises(ValidationError) as err:
        Suite.model_validate(assemble(common, apps))
    assert complaint in str(err.value)


@pytest.mark.parametrize(
    ("mutate", "complaint"),
    [
        (lambda c, a: _app(a, "5")["happy"][0]["request"].update(message="no-such-message"), "no message"),
        (lambda c, a: _app(a, "5")["values"].pop("focus_type"), "@{focus_type}"),
    ],
)
def test_unknown_messages_and_placeholders_fail_at_load(mutate: Any, complaint: str) -> None:
    common, apps = _raw()
    mutate(common, apps)
    with pytest.raises(SuiteDataError, match="Application 5") as err:
        assemble(common, apps)
    assert complaint in str(err.value)


@pytest.mark.parametrize(
    ("mutate", "complaint"),
    [
        (
            lambda a: _app(a, "5")["messages"]["primary"].update(workflow="validation-new"),
            "is not one of the Application's",
        ),
        (lambda a: _app(a, "5")["messages"]["primary"].pop("workflow"), "workflow None"),
        (lambda a: _app(a, "5")["values"].update(other_use_case="a5t2"), "another Application's use case"),
        (lambda a: _app(a, "5")["application"].update(id="9"), "not in the Applications catalogue"),
    ],
)
def test_facts_are_checked_against_the_applications_catalogue(mutate: Any, complaint: str) -> None:
    common, apps = _raw()
    mutate(apps)
    with pytest.raises(SuiteDataError) as err:
        assemble(common, apps)
    assert complaint in str(err.value)


def test_the_ucc_and_use_context_categories_come_from_the_applications_catalogue() -> None:
    from tkw.applications import get_catalogue

    catalogue = get_catalogue()
    suite = load_suite()
    for application in suite.applications:
        assert application.use_case == catalogue.application(int(application.id)).default_use_case  # type: ignore[union-attr]
    for name, raw in _app(_raw()[1], "4")["messages"].items():
        assert "a4t1" not in json.dumps(raw), name  # written once, in the catalogue


def test_a_capture_is_only_usable_by_tests_that_depend_on_its_test() -> None:
    common, apps = _raw()
    for test in _app(apps, "5")["happy"]:
        if test["id"] == "referral-get":
            test["depends_on"] = []
    with pytest.raises(ValidationError, match="referral_id"):
        Suite.model_validate(assemble(common, apps))


def test_the_suite_texts_round_trip_through_the_parser() -> None:
    root = resources.files("tkw.receiver")
    texts = [f.read_text() for f in sorted(root.joinpath("applications").iterdir(), key=lambda f: f.name)]
    assert parse_suite(root.joinpath("suite.yaml").read_text(), texts).ids == load_suite().ids
