"""Every row of the beta TKW guide's scenario table through ``tkw.pipeline.handle`` (proxy checks
included), with ``TKW_EDITION=beta`` (the live page's rows: ``test_tkw_editions_pipeline.py``).

Inputs are the official and IG example payloads, with the sentinel patient swapped in; every response
is validated with fhir.resources R4B. ``covers(...)`` records which rows a test exercises, and a final
test checks that every guide row of scenarios.yaml is exercised.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from bars_support import BASE, assert_outcome, assert_valid_fhir, example, for_patient, ig_example
from functional.pipeline_support import BASE_URL, entries, focus, header
from functional.pipeline_support import call as pipeline_call

from tkw.context import Answer, RequestContext
from tkw.http import ApiResponse
from tkw.routes import Operation
from tkw.scenarios.engine import get_engine, load_table
from tkw.services import Services
from tkw.settings import Settings
from tkw.stateful import InMemoryStateStore


@pytest.fixture(autouse=True)
def in_memory_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stateful store behind its protocol, in memory: reads of unknown ids consult it."""
    services = Services(settings=Settings(tkw_edition="beta"))
    services.state = InMemoryStateStore()
    monkeypatch.setattr("tkw.pipeline.get_services", lambda: services)


APPOINTMENT_ID = "ce1c4ced-2a84-4198-9982-9caf894d0bb7"
REFERRAL_ID = "79120f41-a431-4f08-bcc5-1e67006fcae0"
VALIDATION_ID = "0b42eac3-0175-43c8-bbab-efaa8ca31ccf"
MD = "https://fhir.nhs.uk/MessageDefinition/bars-message-"

COVERED: set[str] = set()
F = TypeVar("F", bound=Callable[..., Any])


def covers(*scenario_ids: str) -> Callable[[F], F]:
    def mark(test: F) -> F:
        COVERED.update(scenario_ids)
        return test

    return mark


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The ids of the scenario rows that answered, in order."""
    engine = get_engine("beta")
    seen: list[str] = []
    original = engine.respond

    def spy(ctx: RequestContext) -> Answer:
        answer = original(ctx)
        if answer.scenario is not None:
            seen.append(answer.scenario)
        return answer

    monkeypatch.setattr(engine, "respond", spy)
    yield seen


# ---- requests ----------------------------------------------------------------------------------


def call(
    operation: Operation,
    method: str,
    path: str,
    *,
    query: dict[str, tuple[str, ...]] | None = None,
    body: Any = None,
    target: str | None = "2000011147",
) -> ApiResponse:
    return pipeline_call(operation, method, path, query=query, body=body, target_value=target)


def metadata(target: str | None) -> ApiResponse:
    return call(Operation.METADATA, "GET", "/metadata", target=target)


def message_definitions(*context: str) -> ApiResponse:
    return call(
        Operation.MESSAGE_DEFINITION_SEARCH, "GET", "/MessageDefinition", query={"context": context} if context else {}
    )


def slots(service: str | None, status: str | None = "free", includes: tuple[str, ...] = ()) -> ApiResponse:
    query: dict[str, tuple[str, ...]] = {
        "start": ("ge2026-11-02T09:00:00+00:00", "le2026-11-02T17:00:00+00:00"),
        "_include": includes or ("Slot:schedule", "Schedule:actor:HealthcareService"),
    }
    if status is not None:
        query["status"] = (status,)
    if service is not None:
        query["Schedule.actor:HealthcareService"] = (service,)
    return call(Operation.SLOT_SEARCH, "GET", "/Slot", query=query)


def post(bundle: dict[str, Any], target: str = "2000011147") -> ApiResponse:
    return call(Operation.PROCESS_MESSAGE, "POST", "/$process-message", body=bundle, target=target)


def read(resource_type: str, resource_id: str) -> ApiResponse:
    operation = Operation.APPOINTMENT_READ if resource_type == "Appointment" else Operation.SERVICE_REQUEST_READ
    return call(operation, "GET", f"/{resource_type}/{resource_id}")


def search(resource_type: str, patient: str | None) -> ApiResponse:
    operation = Operation.APPOINTMENT_SEARCH if resource_type == "Appointment" else Operation.SERVICE_REQUEST_SEARCH
    return call(operation, "GET", f"/{resource_type}", query={"patient:identifier": (patient,)} if patient else {})


# ---- payloads ----------------------------------------------------------------------------------


def with_reason(bundle: dict[str, Any], reason: str) -> dict[str, Any]:
    header(bundle)["reason"]["coding"][0]["code"] = reason
    return bundle


def assert_echo(response: ApiResponse, request: dict[str, Any], focus_id: str | None) -> dict[str, Any]:
    """A 200 that is the request message with the receiver's ids, and no OperationOutcome."""
    assert response.status == 200, response.body
    body = response.body
    assert_valid_fhir(body)
    assert (body["resourceType"], body["type"], body.get("id")) == ("Bundle", "message", request.get("id"))
    assert [e["fullUrl"] for e in body["entry"]] == [e["fullUrl"] for e in request["entry"]]
    assert all(e["resource"]["resourceType"] != "OperationOutcome" for e in body["entry"])
    assert all(e["resource"].get("id") for e in body["entry"]), "every resource has the receiver's id"
    sent_focus = focus(request)
    returned = focus(body)
    assert returned["resourceType"] == sent_focus["resourceType"]
    assert returned["id"] == (focus_id or sent_focus["id"])
    assert returned.get("status") == sent_focus.get("status")
    return body  # type: ignore[no-any-return]


def assert_error(response: ApiResponse, status: int, bars_code: str, issue: str) -> None:
    assert response.status == status, response.body
    diagnostics = assert_outcome(response.body, bars_code, issue)["diagnostics"]
    for nhs_number in ("9976150288", "9933902830", "9818556143", "9618388816", "9853944189", "9383924314"):
        assert nhs_number not in diagnostics, "no patient data in diagnostics"


def referral_cancel() -> dict[str, Any]:
    """SERVREQ01 (a validation cancel) as a referral cancel: the IG has no referral-cancel example."""
    bundle: dict[str, Any] = ig_example("SERVREQ01")
    entries(bundle, "ServiceRequest")[0]["category"] = entries(ig_example("REFREQ01"), "ServiceRequest")[0]["category"]
    return bundle


# ---- Capability ----------------------------------------------------------------------------------


def supported(statement: dict[str, Any], mode: str) -> set[str]:
    return {
        m["definition"].removeprefix(MD) for m in statement["messaging"][0]["supportedMessage"] if m["mode"] == mode
    }


@covers(
    "cs-booking-referral-receiver",
    "cs-referral-receiver",
    "cs-booking-referral-sender",
    "cs-validation-sender",
    "cs-any-other",
)
@pytest.mark.parametrize(
    ("target", "scenario", "receives", "sends"),
    [
        ("2000011147", "cs-booking-referral-receiver", "booking-request", "servicerequest-response-referral"),
        ("2000076289", "cs-referral-receiver", "servicerequest-request-referral", "servicerequest-response-referral"),
        ("2000094704", "cs-booking-referral-sender", "servicerequest-response-referral", "booking-request"),
        (
            "2000011149",
            "cs-validation-sender",
            "servicerequest-response-validation-interim",
            "servicerequest-request-validation",
        ),
        # A catalogued service without an answer of its own (the live page's UserTest DoS TKW 5).
        ("2000093816", "cs-any-other", "servicerequest-request-validation", None),
    ],
)
def test_capability_statement_by_target(
    answered: list[str], target: str, scenario: str, receives: str, sends: str | None
) -> None:
    response = metadata(target)
    assert response.status == 200
    assert_valid_fhir(response.body)
    assert response.body["resourceType"] == "CapabilityStatement"
    assert receives in supported(response.body, "receiver")
    if sends:
        assert sends in supported(response.body, "sender")
    else:
        assert not supported(response.body, "sender")
    assert answered == [scenario]


def test_the_five_capability_statements_differ() -> None:
    bodies = [metadata(t).body for t in ("2000011147", "2000076289", "2000094704", "2000011149", "2000093816")]
    assert len({b["id"] for b in bodies}) == 5
    assert len({json.dumps(b["messaging"], sort_keys=True) for b in bodies}) == 5


def test_referral_receiver_takes_no_bookings_and_sender_takes_no_requests() -> None:
    assert "booking-request" not in supported(metadata("2000076289").body, "receiver")
    assert not {"booking-request", "servicerequest-request-referral"} & supported(
        metadata("2000094704").body, "receiver"
    )


def test_metadata_without_target_is_still_the_proxys_statement(answered: list[str]) -> None:
    response = metadata(None)
    assert response.status == 200
    assert response.body["url"] == "https://int.api.service.nhs.uk/booking-and-referral/FHIR/R4"
    assert len(supported(response.body, "receiver")) == 9  # the proxy lists every definition
    assert answered == []


# ---- MessageDef ----------------------------------------------------------------------------------


MD_SETS = {
    "2000011147": {
        "booking-request",
        "booking-request-cancelled",
        "servicerequest-request-referral",
        "servicerequest-request-cancelled",
    },
    "2000076289": {"servicerequest-request-referral", "servicerequest-request-cancelled"},
    "2000008878": {"servicerequest-request-validation", "servicerequest-request-cancelled"},
    "2000094704": {"servicerequest-response-referral"},
    "2000011149": {"servicerequest-response-validation-interim", "servicerequest-response-validation-full"},
}
MD_ROWS = {
    "2000011147": "md-booking-referral-receiver",
    "2000076289": "md-referral-receiver",
    "2000008878": "md-validation-receiver",
    "2000094704": "md-booking-referral-sender",
    "2000011149": "md-validation-sender",
}


@covers(
    "md-booking-referral-receiver",
    "md-referral-receiver",
    "md-validation-receiver",
    "md-booking-referral-sender",
    "md-validation-sender",
    "md-any-other",
)
@pytest.mark.parametrize("form", ["bare", "token", "token-and-use-case"])
@pytest.mark.parametrize("service", [*MD_SETS, "2000099999"])
def test_message_definitions_by_context(answered: list[str], service: str, form: str) -> None:
    context = {
        "bare": (service,),
        "token": (f"https://fhir.nhs.uk/Id/dos-service-id|{service}",),
        "token-and-use-case": (
            f"https://fhir.nhs.uk/Id/dos-service-id|{service}",
            "https://fhir.nhs.uk/CodeSystem/usecases-categories-bars|a1t1",
        ),
    }[form]
    response = message_definitions(*context)
    assert response.status == 200, response.body
    body = response.body
    assert_valid_fhir(body)
    assert (body["type"], body["total"]) == ("searchset", len(body["entry"]))
    urls = {e["resource"]["url"].removeprefix(MD) for e in body["entry"]}
    expected = MD_SETS.get(service) or set().union(*MD_SETS.values())  # BaRS Core: every workflow
    assert urls == expected
    assert all(e["search"]["mode"] == "match" for e in body["entry"])
    assert all(e["fullUrl"].startswith(f"{BASE_URL}{BASE}/MessageDefinition/") for e in body["entry"])
    for definition in (e["resource"] for e in body["entry"]):
        codes = [u["valueCodeableConcept"]["coding"][0] for u in definition["useContext"]]
        assert {"system": "https://fhir.nhs.uk/Id/dos-service-id", "code": service} in codes
    assert body["link"][0]["url"].startswith(f"{BASE_URL}{BASE}/MessageDefinition?context=")
    assert answered == [MD_ROWS.get(service, "md-any-other")]


@covers("md-401")
@pytest.mark.parametrize("context", ["FAIL0401", "https://fhir.nhs.uk/Id/dos-service-id|FAIL0401"])
def test_message_definitions_fail0401_is_401(answered: list[str], context: str) -> None:
    assert_error(message_definitions(context), 401, "REC_UNAUTHORIZED", "security")
    assert answered == ["md-401"]


def test_message_definitions_without_context_is_400_required() -> None:
    assert_error(message_definitions(), 400, "REC_BAD_REQUEST", "required")
    assert_error(
        message_definitions("https://fhir.nhs.uk/CodeSystem/usecases-categories-bars|a1t1"),
        400,
        "REC_BAD_REQUEST",
        "required",
    )


def test_message_definitions_with_a_foreign_system_is_400_value() -> None:
    assert_error(message_definitions("https://example.org/services|2000011147"), 400, "REC_BAD_REQUEST", "value")


# ---- Booking: Slot ---------------------------------------------------------------------------------


def types_and_statuses(body: dict[str, Any]) -> tuple[list[str], list[str]]:
    resources = [e["resource"] for e in body.get("entry", [])]
    return [r["resourceType"] for r in resources], [r["status"] for r in resources if r["resourceType"] == "Slot"]


@covers("slots-free")
def test_free_slots(answered: list[str]) -> None:
    response = slots("2000072489", "free")
    assert response.status == 200
    body = response.body
    assert_valid_fhir(body)
    types, statuses = types_and_statuses(body)
    assert statuses == ["free", "free", "free"]
    assert body["total"] == 3
    assert types.count("Schedule") == types.count("HealthcareService") == 1
    modes = {e["resource"]["resourceType"]: e["search"]["mode"] for e in body["entry"]}
    assert modes == {"Slot": "match", "Schedule": "include", "HealthcareService": "include"}
    for slot in (e["resource"] for e in body["entry"] if e["resource"]["resourceType"] == "Slot"):
        assert "2026-11-02T09:00:00+00:00" <= slot["start"] <= "2026-11-02T17:00:00+00:00"
    link = body["link"][0]["url"]
    assert link.startswith(f"{BASE_URL}{BASE}/Slot?")
    assert "_include=Slot:schedule" in link and "status=free" in link
    assert answered == ["slots-free"]


def test_status_is_required_and_busy_alone_gives_busy() -> None:
    assert_error(slots("2000072489", None), 400, "REC_BAD_REQUEST", "required")  # TKW's NBRS-1771
    assert types_and_statuses(slots("2000072489", "busy").body)[1] == ["busy"] * 2


@covers("slots-free-and-busy")
@pytest.mark.parametrize("status", ["free,busy", "busy,free"])
def test_free_and_busy_slots(answered: list[str], status: str) -> None:
    body = slots("2000072489", status).body
    assert_valid_fhir(body)
    statuses = types_and_statuses(body)[1]
    assert sorted(set(statuses)) == ["busy", "free"]
    assert body["total"] == len(statuses) == 5
    assert answered == ["slots-free-and-busy"]


def test_an_include_outside_the_spec_is_400_naming_it() -> None:
    response = slots("2000072489", "free", ("Slot:schedule", "Patient:link"))
    assert_error(response, 400, "REC_BAD_REQUEST", "value")  # TKW's NBRS-1760
    assert response.body["issue"][0]["expression"] == ["_include"]


def test_every_supported_include_is_honoured() -> None:
    includes = (
        "Slot:schedule",
        "Schedule:actor:HealthcareService",
        "Schedule:actor:Practitioner",
        "Schedule:actor:PractitionerRole",
        "HealthcareService:providedBy",
        "HealthcareService.location",
    )
    body = slots("2000072489", "free", includes).body
    assert_valid_fhir(body)
    assert set(types_and_statuses(body)[0]) == {
        "Slot",
        "Schedule",
        "HealthcareService",
        "Practitioner",
        "PractitionerRole",
        "Organization",
        "Location",
    }
    link = body["link"][0]["url"]
    assert "HealthcareService:location" in link


@covers("slots-none")
def test_no_slots(answered: list[str]) -> None:
    body = slots("2000073917", "free,busy").body
    assert_valid_fhir(body)
    assert (body["type"], body["total"], body.get("entry")) == ("searchset", 0, None)
    assert answered == ["slots-none"]


@covers("slots-mandatory")
def test_mandatory_slot_response(answered: list[str]) -> None:
    every_include = (
        "Slot:schedule",
        "Schedule:actor:HealthcareService",
        "Schedule:actor:Practitioner",
        "HealthcareService:location",
    )
    body = slots("2000081825", "free", every_include).body
    assert_valid_fhir(body)
    assert set(types_and_statuses(body)[0]) == {"Slot", "Schedule", "HealthcareService"}
    assert "Practitioner" not in body["link"][0]["url"]
    assert answered == ["slots-mandatory"]


@covers("slots-408")
def test_slot_search_timeout(answered: list[str]) -> None:
    assert_error(slots("2000094120"), 408, "REC_TIMEOUT", "timeout")
    assert answered == ["slots-408"]


@covers("slots-unknown-service")
def test_slot_search_for_an_unknown_service_is_an_empty_searchset(answered: list[str]) -> None:
    body = slots("2000000001").body
    assert_valid_fhir(body)
    assert (body["type"], body["total"], body.get("entry")) == ("searchset", 0, None)
    assert answered == ["slots-unknown-service"]


def test_slot_search_without_healthcare_service_is_400_required() -> None:
    assert_error(slots(None), 400, "REC_BAD_REQUEST", "required")


def test_slot_search_with_an_unknown_status_is_400_value() -> None:
    assert_error(slots("2000072489", "booked"), 400, "REC_BAD_REQUEST", "value")


# ---- Booking: $process-message -------------------------------------------------------------------


@covers("booking-new")
@pytest.mark.parametrize("source", ["BOOKREQ01", "POST-body"])
def test_new_booking_for_the_verified_patient(answered: list[str], source: str) -> None:
    bundle = ig_example("BOOKREQ01") if source == "BOOKREQ01" else example("process_message/POST-body.json")
    bundle = for_patient(bundle, "9054613556")
    body = assert_echo(post(bundle), bundle, APPOINTMENT_ID)
    assert focus(body)["status"] == "booked"
    assert answered == ["booking-new"]


@covers("booking-new-no-nhs-number")
def test_new_booking_for_a_patient_without_nhs_number(answered: list[str]) -> None:
    bundle = for_patient(ig_example("BOOKREQ01"), None)
    assert_echo(post(bundle), bundle, APPOINTMENT_ID)
    assert answered == ["booking-new-no-nhs-number"]


@covers("booking-new-404", "booking-new-409", "booking-new-422")
@pytest.mark.parametrize(
    ("nhs_number", "status", "code", "issue", "scenario"),
    [
        ("9976150288", 404, "REC_NOT_FOUND", "not-found", "booking-new-404"),
        ("9933902830", 409, "REC_CONFLICT", "conflict", "booking-new-409"),
        ("9818556143", 422, "REC_UNPROCESSABLE_ENTITY", "processing", "booking-new-422"),
    ],
)
def test_new_booking_failures(
    answered: list[str], nhs_number: str, status: int, code: str, issue: str, scenario: str
) -> None:
    assert_error(post(for_patient(ig_example("BOOKREQ01"), nhs_number)), status, code, issue)
    assert answered == [scenario]


def test_new_booking_for_any_other_patient_is_like_the_verified_one(answered: list[str]) -> None:
    bundle = ig_example("BOOKREQ01")  # NHS number 9476719931: no sentinel
    assert_echo(post(bundle), bundle, APPOINTMENT_ID)
    assert answered == ["booking-new-any-patient"]


def test_the_sentinel_patient_of_another_workflow_does_not_trip_booking() -> None:
    bundle = for_patient(ig_example("BOOKREQ01"), "9618388816")  # the referral 400 patient
    assert_echo(post(bundle), bundle, APPOINTMENT_ID)


@covers("booking-cancel")
def test_cancel_booking(answered: list[str]) -> None:
    bundle = ig_example("BOOKREQ02")
    body = assert_echo(post(bundle), bundle, APPOINTMENT_ID)
    assert focus(body)["status"] == "cancelled"
    assert answered == ["booking-cancel"]


def test_cancel_booking_for_an_error_sentinel_patient_still_succeeds() -> None:
    bundle = for_patient(with_reason(ig_example("BOOKREQ02"), "update"), "9976150288")
    assert_echo(post(bundle), bundle, APPOINTMENT_ID)


def test_update_booking(answered: list[str]) -> None:
    bundle = with_reason(ig_example("BOOKREQ01"), "update")
    assert_echo(post(bundle), bundle, APPOINTMENT_ID)
    assert answered == ["booking-update"]


def test_unclassifiable_message_is_400_invariant_saying_what_was_found() -> None:
    bundle = ig_example("BOOKREQ01")
    entries(bundle, "Appointment")[0]["status"] = "fulfilled"
    response = post(bundle)
    assert_error(response, 400, "REC_BAD_REQUEST", "invariant")
    assert "'fulfilled'" in response.body["issue"][0]["diagnostics"]


# ---- Booking: reads and search -------------------------------------------------------------------


@covers("booking-get")
@pytest.mark.parametrize("resource_id", [APPOINTMENT_ID, APPOINTMENT_ID.upper()])
def test_get_booking(answered: list[str], resource_id: str) -> None:
    response = read("Appointment", resource_id)
    assert response.status == 200
    assert_valid_fhir(response.body)
    assert (response.body["resourceType"], response.body["id"], response.body["status"]) == (
        "Appointment",
        APPOINTMENT_ID,
        "booked",
    )
    assert answered == ["booking-get"]


@covers("booking-get-501")
def test_get_booking_501(answered: list[str]) -> None:
    assert_error(
        read("Appointment", "0d440c22-7f25-4c6c-905d-2213d197d02a"), 501, "REC_NOT_IMPLEMENTED", "not-supported"
    )
    assert answered == ["booking-get-501"]


@pytest.mark.parametrize("resource_id", ["3f2a6c1e-9b7d-4e21-a8c3-5d6e7f809a1b", REFERRAL_ID])
def test_get_booking_tkw_did_not_issue_is_404(resource_id: str) -> None:
    assert_error(read("Appointment", resource_id), 404, "REC_NOT_FOUND", "not-found")


@pytest.mark.parametrize("resource_type", ["Appointment", "ServiceRequest"])
def test_read_with_a_malformed_id_is_400_value(resource_type: str) -> None:
    assert_error(read(resource_type, "not-a-uuid"), 400, "REC_BAD_REQUEST", "value")


@pytest.mark.parametrize(
    ("resource_type", "ids"),
    [("Appointment", [APPOINTMENT_ID]), ("ServiceRequest", [REFERRAL_ID, VALIDATION_ID])],
)
@pytest.mark.parametrize("patient", ["https://fhir.nhs.uk/Id/nhs-number|9000000009", "9000000009"])
def test_search_by_patient(resource_type: str, ids: list[str], patient: str) -> None:
    response = search(resource_type, patient)
    assert response.status == 200
    body = response.body
    assert_valid_fhir(body)
    assert (body["type"], body["total"]) == ("searchset", len(ids))
    assert [e["resource"]["id"] for e in body["entry"]] == ids
    assert [e["fullUrl"] for e in body["entry"]] == [f"{BASE_URL}{BASE}/{resource_type}/{i}" for i in ids]
    assert json.dumps(body).count('"9000000009"') == len(ids)
    assert body["link"][0]["url"].startswith(f"{BASE_URL}{BASE}/{resource_type}?patient:identifier=")


@pytest.mark.parametrize("resource_type", ["Appointment", "ServiceRequest"])
def test_search_without_patient_is_400_required(resource_type: str) -> None:
    assert_error(search(resource_type, None), 400, "REC_BAD_REQUEST", "required")


@pytest.mark.parametrize("patient", ["https://example.org/mrn|9000000009", "12345"])
def test_search_with_a_bad_patient_identifier_is_400_value(patient: str) -> None:
    assert_error(search("Appointment", patient), 400, "REC_BAD_REQUEST", "value")


# ---- Referral ------------------------------------------------------------------------------------


@covers("referral-new")
@pytest.mark.parametrize("source", ["REFREQ01", "REFREQ02"])
def test_new_referral_for_the_verified_patient(answered: list[str], source: str) -> None:
    bundle = for_patient(ig_example(source), "9054613556")
    assert_echo(post(bundle), bundle, REFERRAL_ID)
    assert answered == ["referral-new"]


@covers("referral-new-no-nhs-number")
def test_new_referral_for_a_patient_without_nhs_number(answered: list[str]) -> None:
    bundle = for_patient(ig_example("REFREQ01"), None)
    assert_echo(post(bundle), bundle, REFERRAL_ID)
    assert answered == ["referral-new-no-nhs-number"]


@covers("referral-new-400", "referral-new-500")
@pytest.mark.parametrize(
    ("nhs_number", "status", "code", "issue", "scenario"),
    [
        ("9618388816", 400, "REC_BAD_REQUEST", "invalid", "referral-new-400"),
        ("9853944189", 500, "REC_SERVER_ERROR", "exception", "referral-new-500"),
    ],
)
def test_new_referral_failures(
    answered: list[str], nhs_number: str, status: int, code: str, issue: str, scenario: str
) -> None:
    assert_error(post(for_patient(ig_example("REFREQ01"), nhs_number)), status, code, issue)
    assert answered == [scenario]


def test_new_referral_for_any_other_patient(answered: list[str]) -> None:
    bundle = ig_example("REFREQ01")
    assert_echo(post(bundle), bundle, REFERRAL_ID)
    assert answered == ["referral-new-any-patient"]


@covers("referral-cancel")
def test_cancel_referral(answered: list[str]) -> None:
    bundle = referral_cancel()
    body = assert_echo(post(bundle), bundle, REFERRAL_ID)
    assert focus(body)["status"] == "revoked"
    assert answered == ["referral-cancel"]


@covers("referral-get")
def test_get_referral(answered: list[str]) -> None:
    response = read("ServiceRequest", REFERRAL_ID)
    assert response.status == 200
    assert_valid_fhir(response.body)
    body = response.body
    assert (body["resourceType"], body["id"], body["status"]) == ("ServiceRequest", REFERRAL_ID, "active")
    assert "referral" in json.dumps(body["category"])
    assert answered == ["referral-get"]


@covers("referral-get-405", "referral-get-429", "referral-get-503")
@pytest.mark.parametrize(
    ("resource_id", "status", "code", "issue", "scenario"),
    [
        ("61215702-0049-4d76-9807-2123f0a6ca15", 405, "REC_METHOD_NOT_ALLOWED", "not-supported", "referral-get-405"),
        ("9d280ad9-6dda-46d2-a75e-f5b47b2f4e87", 429, "REC_TOO_MANY_REQUESTS", "throttled", "referral-get-429"),
        ("4d65ddaa-4d09-41cd-87c9-aeb9c0c96352", 503, "REC_SERVICE_UNAVAILABLE", "transient", "referral-get-503"),
    ],
)
def test_get_referral_failures(
    answered: list[str], resource_id: str, status: int, code: str, issue: str, scenario: str
) -> None:
    response = read("ServiceRequest", resource_id)
    assert_error(response, status, code, issue)
    if status in (429, 503):
        assert response.headers["Retry-After"] == "1"
    assert answered == [scenario]


def test_get_service_request_tkw_did_not_issue_is_404() -> None:
    assert_error(read("ServiceRequest", str(uuid.uuid4())), 404, "REC_NOT_FOUND", "not-found")


# ---- Validation ----------------------------------------------------------------------------------


@covers("validation-new")
@pytest.mark.parametrize("source", ["VALREQ01", "ValidationRequest_(POST)"])
def test_new_validation_request(answered: list[str], source: str) -> None:
    bundle = (
        ig_example("VALREQ01")
        if source == "VALREQ01"
        else example("process_message/request/ValidationRequest_(POST).json")
    )
    assert_echo(post(bundle, target="2000008878"), bundle, VALIDATION_ID)
    assert answered == ["validation-new"]


def test_new_validation_request_without_nhs_number_gets_the_default_id() -> None:
    bundle = for_patient(ig_example("VALREQ01"), None)
    assert_echo(post(bundle), bundle, VALIDATION_ID)


@covers("validation-new-for-408", "validation-new-for-501")
@pytest.mark.parametrize(
    ("nhs_number", "service_request_id", "scenario"),
    [
        ("9945210394", "9e595424-9d67-45db-9a90-03259653cd37", "validation-new-for-408"),
        ("9010223337", "c337e8d8-fd5b-4a13-a8e4-0f6f4ac1bb1a", "validation-new-for-501"),
    ],
)
def test_new_validation_request_for_the_error_read_ids(
    answered: list[str], nhs_number: str, service_request_id: str, scenario: str
) -> None:
    bundle = for_patient(ig_example("VALREQ01"), nhs_number)
    assert_echo(post(bundle), bundle, service_request_id)
    assert answered == [scenario]


@covers("validation-get")
def test_get_validation_request(answered: list[str]) -> None:
    response = read("ServiceRequest", VALIDATION_ID)
    assert response.status == 200
    assert_valid_fhir(response.body)
    assert (response.body["id"], response.body["status"]) == (VALIDATION_ID, "active")
    assert "validation" in json.dumps(response.body["category"])
    assert answered == ["validation-get"]


@covers("validation-get-408", "validation-get-501")
@pytest.mark.parametrize(
    ("resource_id", "status", "code", "issue", "scenario"),
    [
        ("9e595424-9d67-45db-9a90-03259653cd37", 408, "REC_TIMEOUT", "timeout", "validation-get-408"),
        ("c337e8d8-fd5b-4a13-a8e4-0f6f4ac1bb1a", 501, "REC_NOT_IMPLEMENTED", "not-supported", "validation-get-501"),
    ],
)
def test_get_validation_failures(
    answered: list[str], resource_id: str, status: int, code: str, issue: str, scenario: str
) -> None:
    assert_error(read("ServiceRequest", resource_id), status, code, issue)
    assert answered == [scenario]


@covers("validation-update")
def test_update_validation_request(answered: list[str]) -> None:
    bundle = with_reason(ig_example("VALREQ01"), "update")
    assert_echo(post(bundle), bundle, VALIDATION_ID)
    assert answered == ["validation-update"]


@covers("validation-cancel")
def test_cancel_validation_request(answered: list[str]) -> None:
    bundle = ig_example("SERVREQ01")
    body = assert_echo(post(bundle), bundle, VALIDATION_ID)
    assert focus(body)["status"] == "revoked"
    assert answered == ["validation-cancel"]


@covers("validation-new-404", "validation-new-409", "validation-new-422", "validation-new-401")
@pytest.mark.parametrize(
    ("nhs_number", "status", "code", "issue", "scenario"),
    [
        ("9976150288", 404, "REC_NOT_FOUND", "not-found", "validation-new-404"),
        ("9933902830", 409, "REC_CONFLICT", "duplicate", "validation-new-409"),
        ("9818556143", 422, "REC_UNPROCESSABLE_ENTITY", "processing", "validation-new-422"),
        ("9383924314", 401, "REC_UNAUTHORIZED", "security", "validation-new-401"),
    ],
)
def test_new_validation_failures(
    answered: list[str], nhs_number: str, status: int, code: str, issue: str, scenario: str
) -> None:
    assert_error(post(for_patient(ig_example("VALREQ01"), nhs_number)), status, code, issue)
    assert answered == [scenario]


# ---- Response ------------------------------------------------------------------------------------


@covers("validation-response-full")
@pytest.mark.parametrize("source", ["VALRESP02", "ValidationResponse_(POST)"])
def test_full_validation_response_is_accepted(answered: list[str], source: str) -> None:
    bundle = (
        ig_example("VALRESP02")
        if source == "VALRESP02"
        else example("process_message/request/ValidationResponse_(POST).json")
    )
    assert_echo(post(bundle, target="2000011149"), bundle, None)
    assert answered == ["validation-response-full"]


@covers("validation-response-interim")
def test_interim_validation_response_is_accepted(answered: list[str]) -> None:
    bundle = ig_example("VALRESP01A")
    assert_echo(post(bundle, target="2000011149"), bundle, None)
    assert answered == ["validation-response-interim"]


@covers("safeguarding-dna-response")
def test_safeguarding_dna_response_is_accepted(answered: list[str]) -> None:
    bundle = for_patient(ig_example("REFRESP01"), "9054613556")
    body = assert_echo(post(bundle, target="2000094704"), bundle, None)
    assert focus(body)["status"] == "revoked"
    assert answered == ["safeguarding-dna-response"]


@covers("safeguarding-dna-response-401")
def test_safeguarding_dna_response_401(answered: list[str]) -> None:
    assert_error(
        post(for_patient(ig_example("REFRESP01"), "9383924314"), target="2000094704"),
        401,
        "REC_UNAUTHORIZED",
        "security",
    )
    assert answered == ["safeguarding-dna-response-401"]


def test_safeguarding_dna_response_for_any_other_patient_is_accepted(answered: list[str]) -> None:
    bundle = ig_example("REFRESP01")
    assert_echo(post(bundle), bundle, None)
    assert answered == ["safeguarding-dna-response-any-patient"]


# ---- coverage of the guide -----------------------------------------------------------------------


def test_every_guide_row_is_exercised_by_a_test_here() -> None:
    guide = {s.id for s in load_table().scenarios if "beta" in s.editions}
    assert len(guide) == 50
    assert guide - COVERED == set()
    assert COVERED - {s.id for s in load_table().scenarios} == set(), "covers() names an unknown row"
