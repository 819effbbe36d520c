"""The live TKW page's rows, Applications 5 and 6, and the conflicts between the guide editions, through
``tkw.pipeline.handle`` (proxy checks included) under ``TKW_EDITION`` live and beta.

Expected statuses and ids are the live page's (``seed/tkw-guide-live-2026.md``), written out here;
payloads are the live IG's examples with the sentinel patient swapped in. Every response is validated
with fhir.resources R4B.
"""

from __future__ import annotations

from typing import Any

import pytest
from bars_support import (
    BASE,
    assert_outcome,
    assert_valid_fhir,
    example,
    for_patient,
    live_example,
)
from functional.pipeline_support import call as pipeline_call
from functional.pipeline_support import entries, focus

from tkw.http import ApiRequest, ApiResponse
from tkw.pipeline import handle
from tkw.routes import Operation
from tkw.services import Services
from tkw.settings import Settings
from tkw.stateful import InMemoryStateStore

APPOINTMENT_ID = "ce1c4ced-2a84-4198-9982-9caf894d0bb7"
REFERRAL_ID = "79120f41-a431-4f08-bcc5-1e67006fcae0"
VALIDATION_ID = "0b42eac3-0175-43c8-bbab-efaa8ca31ccf"
REVOKED_ID = "09b53c07-2a21-4ba5-ac8b-f33e486d794d"
USE_CASE_SYSTEM = "https://fhir.nhs.uk/CodeSystem/usecases-categories-bars"
DOS = "https://fhir.nhs.uk/Id/dos-service-id"
EDITIONS = ("live", "beta")


def use(monkeypatch: pytest.MonkeyPatch, **settings: Any) -> Services:
    services = Services(settings=Settings(reports_enabled=False, **settings))
    services.state = InMemoryStateStore()
    monkeypatch.setattr("tkw.pipeline.get_services", lambda: services)
    return services


@pytest.fixture(params=EDITIONS)
def edition(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test runs under both editions: rows of either table answer whatever the setting."""
    use(monkeypatch, tkw_edition=request.param)
    return str(request.param)


def call(
    operation: Operation,
    method: str,
    path: str,
    *,
    query: dict[str, tuple[str, ...]] | None = None,
    body: Any = None,
    target: str = "2000072489",
    target_system: str = DOS,
) -> ApiResponse:
    return pipeline_call(
        operation, method, path, query=query, body=body, target_value=target, target_system=target_system
    )


def post(bundle: dict[str, Any], target: str = "2000072489") -> ApiResponse:
    return call(Operation.PROCESS_MESSAGE, "POST", "/$process-message", body=bundle, target=target)


def profile_errors(body: dict[str, Any]) -> set[tuple[str, str]]:
    from tkw.profiles import validate_body

    return {(str(e.expression), e.describe()) for e in validate_body(body).errors}


def assert_answered(response: ApiResponse, request: dict[str, Any], focus_id: str | None) -> None:
    assert response.status == 200, response.body
    # The answer echoes the request, so it may carry the request's own profile defects (REFREQ04's are
    # listed in tests/data/profile_example_defects.yaml), never new ones.
    assert_valid_fhir(response.body, profiles=False)
    assert profile_errors(response.body) <= profile_errors(request)
    assert response.body["type"] == "message"
    returned = focus(response.body)["id"]
    assert returned == (focus_id or focus(request).get("id") or returned)
    assert returned, "the focus carries the receiver's id"


def assert_error(response: ApiResponse, status: int, bars_code: str) -> None:
    assert response.status == status, response.body
    assert_outcome(response.body, bars_code)


# ---- Capability and MessageDef (live rows) -------------------------------------------------------


@pytest.mark.parametrize("target", ["2000011147", "2000076289", "1374839566", "2000093816"])
def test_capability_statements_of_the_live_targets(edition: str, target: str) -> None:
    response = call(Operation.METADATA, "GET", "/metadata", target=target)
    assert response.status == 200
    assert_valid_fhir(response.body)
    assert response.body["resourceType"] == "CapabilityStatement"


def message_definitions(*context: str) -> ApiResponse:
    return call(Operation.MESSAGE_DEFINITION_SEARCH, "GET", "/MessageDefinition", query={"context": context})


def definitions(response: ApiResponse) -> list[dict[str, Any]]:
    assert response.status == 200, response.body
    assert_valid_fhir(response.body)
    return [e["resource"] for e in response.body["entry"]]


def use_cases(definition: dict[str, Any]) -> set[str]:
    return {
        c["code"]
        for u in definition["useContext"]
        for c in u["valueCodeableConcept"]["coding"]
        if c["system"] == USE_CASE_SYSTEM
    }


@pytest.mark.parametrize(
    ("service", "use_case", "events"),
    [
        ("2000070513", "a5t1", {"servicerequest-request"}),
        ("2000159909", "a6t1", {"servicerequest-request", "servicerequest-response"}),
    ],
)
def test_application_message_definitions_with_the_use_case_context(
    edition: str, service: str, use_case: str, events: set[str]
) -> None:
    found = definitions(message_definitions(f"{DOS}|{service}", f"{USE_CASE_SYSTEM}|{use_case}"))
    assert found
    assert all(use_case in use_cases(d) and all(u.startswith(use_case[:2]) for u in use_cases(d)) for d in found)
    assert {d["eventCoding"]["code"] for d in found} == events
    # Since TKW 1.0.19 the service id alone is enough (NBRS-3964).
    assert [d["id"] for d in definitions(message_definitions(f"{DOS}|{service}"))] == [d["id"] for d in found]


def test_invalid_message_definitions_include_an_invoice(edition: str) -> None:
    found = definitions(message_definitions(f"{DOS}|2000071898"))
    assert found and all(any(f["code"] == "Invoice" for f in d["focus"]) for d in found)


@pytest.mark.parametrize(("context", "service"), [("2000003366", "validation receiver"), ("1374839566", "sender")])
def test_validation_message_definitions_at_the_live_services(edition: str, context: str, service: str) -> None:
    found = definitions(message_definitions(f"{DOS}|{context}"))
    assert all(d["eventCoding"]["code"].startswith("servicerequest-") for d in found), service


def test_message_definition_fail0404(edition: str) -> None:
    assert_error(message_definitions(f"{DOS}|FAIL0404"), 404, "REC_NOT_FOUND")


# ---- Slot (live rows and TKW's NBRS-1760/1771) ---------------------------------------------------


def slots(query: dict[str, tuple[str, ...]]) -> ApiResponse:
    return call(Operation.SLOT_SEARCH, "GET", "/Slot", query=query)


def slot_query(service: str, **changes: tuple[str, ...] | None) -> dict[str, tuple[str, ...]]:
    query: dict[str, tuple[str, ...] | None] = {
        "start": ("ge2026-11-02T09:00:00+00:00", "le2026-11-02T17:00:00+00:00"),
        "status": ("free",),
        "_include": ("Slot:schedule", "Schedule:actor:HealthcareService"),
        "Schedule.actor:HealthcareService": (service,),
        **changes,
    }
    return {k: v for k, v in query.items() if v is not None}


def test_mandatory_slot_response_at_1503499715(edition: str) -> None:
    response = slots(slot_query("1503499715"))
    assert response.status == 200
    assert_valid_fhir(response.body)
    types = {e["resource"]["resourceType"] for e in response.body["entry"]}
    assert types == {"Slot", "Schedule", "HealthcareService"}


def test_slot_search_408_at_2000081230(edition: str) -> None:
    assert slots(slot_query("2000081230")).status == 408


def test_a_healthcare_service_tkw_does_not_know_has_no_slots(edition: str) -> None:
    response = slots(slot_query("2000093816"))
    assert response.status == 200
    assert_valid_fhir(response.body)
    assert (response.body["type"], response.body["total"], response.body.get("entry", [])) == ("searchset", 0, [])


@pytest.mark.parametrize(
    ("changes", "parameter"),
    [
        ({"status": None}, "status"),
        ({"status": ("invalid",)}, "status"),
        ({"start": None}, "start"),
        ({"_include": ("invalid",)}, "_include"),
    ],
)
def test_bad_slot_parameters_are_400_naming_the_parameter(
    edition: str, changes: dict[str, tuple[str, ...] | None], parameter: str
) -> None:
    response = slots(slot_query("2000072489", **changes))
    issue = assert_outcome(response.body, "REC_BAD_REQUEST")
    assert response.status == 400
    assert issue["expression"] == [parameter]
    assert parameter in issue["diagnostics"]


# ---- $process-message (live rows) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("example_name", "nhs_number", "status", "focus_id", "bars_code"),
    [
        ("BOOKREQ01", "9658499007", 200, APPOINTMENT_ID, None),
        ("BOOKREQ01", "9658499015", 404, None, "REC_NOT_FOUND"),
        ("BOOKREQ01", "9658499023", 409, None, "REC_CONFLICT"),
        ("BOOKREQ01", "9658499031", 422, None, "REC_UNPROCESSABLE_ENTITY"),
        ("REFREQ01", "9658499058", 200, REFERRAL_ID, None),
        ("REFREQ01", "9658499066", 400, None, "REC_BAD_REQUEST"),
        ("REFREQ01", "9658499074", 500, None, "REC_SERVER_ERROR"),
        ("VALREQ03", "9658499082", 200, "9e595424-9d67-45db-9a90-03259653cd37", None),
        ("VALREQ03", "9658499090", 200, "c337e8d8-fd5b-4a13-a8e4-0f6f4ac1bb1a", None),
        ("VALREQ03", "9658499015", 404, None, "REC_NOT_FOUND"),
        ("VALREQ03", "9658499112", 409, None, "REC_CONFLICT"),
        ("VALREQ03", "9658499120", 422, None, "REC_UNPROCESSABLE_ENTITY"),
        ("VALREQ03", "9658499139", 401, None, "REC_UNAUTHORIZED"),
        ("VALREQ03", "9658499147", 200, VALIDATION_ID, None),
        ("VALREQ03", "9658499155", 200, VALIDATION_ID, None),
        ("REFRESP01", "9658499163", 200, None, None),
        ("REFRESP01", "9658499171", 401, None, "REC_UNAUTHORIZED"),
    ],
)
def test_live_sentinel_patients(
    edition: str, example_name: str, nhs_number: str, status: int, focus_id: str | None, bars_code: str | None
) -> None:
    bundle = for_patient(live_example(example_name), nhs_number)
    response = post(bundle)
    if bars_code is None:
        assert_answered(response, bundle, focus_id)
    else:
        assert_error(response, status, bars_code)


# ---- the conflicts: TKW_EDITION decides ----------------------------------------------------------


def referral_cancel() -> dict[str, Any]:
    """SERVREQ01 with a referral's category: a referral cancellation."""
    bundle: dict[str, Any] = live_example("SERVREQ01")
    category = entries(live_example("REFREQ01"), "ServiceRequest")[0]["category"]
    entries(bundle, "ServiceRequest")[0]["category"] = category
    return bundle


@pytest.mark.parametrize(("chosen", "returned"), [("live", REVOKED_ID), ("beta", REFERRAL_ID)])
def test_referral_cancel_returns_the_id_of_the_chosen_edition(
    monkeypatch: pytest.MonkeyPatch, chosen: str, returned: str
) -> None:
    use(monkeypatch, tkw_edition=chosen)
    bundle = referral_cancel()
    assert_answered(post(bundle), bundle, returned)


@pytest.mark.parametrize(("chosen", "returned"), [("live", REVOKED_ID), ("beta", VALIDATION_ID)])
def test_servreq01_as_sent_returns_the_id_of_the_chosen_edition(
    monkeypatch: pytest.MonkeyPatch, chosen: str, returned: str
) -> None:
    """The live page's cancel body, unchanged (a revoked validation ServiceRequest)."""
    use(monkeypatch, tkw_edition=chosen)
    bundle = live_example("SERVREQ01")
    assert_answered(post(bundle), bundle, returned)


@pytest.mark.parametrize("chosen", EDITIONS)
def test_ping_names_the_edition(monkeypatch: pytest.MonkeyPatch, chosen: str) -> None:
    use(monkeypatch, tkw_edition=chosen)
    response = handle(Operation.PING, ApiRequest(method="GET", path=BASE + "/_ping", headers={}, query={}))
    assert response.body["tkwEdition"] == chosen


# ---- Applications 5 and 6 ------------------------------------------------------------------------


def test_application_5_referral_to_2000070513(edition: str) -> None:
    bundle = live_example("REFREQ03")
    assert_answered(post(bundle, target="2000070513"), bundle, REFERRAL_ID)


@pytest.mark.parametrize("example_name", ["REFREQ04", "REFREQ8A", "REFREQ8B", "REFREQ8C", "REFREQ8D", "REFRESP03"])
def test_application_6_messages_to_2000159910_keep_the_senders_ids(edition: str, example_name: str) -> None:
    """Out-of-area CAD referral, its updates and final update, and the out-of-area response."""
    bundle = live_example(example_name)
    assert_answered(post(bundle, target="2000159910"), bundle, None)


def test_application_6_cancellation_to_2000159910(edition: str) -> None:
    bundle = live_example("REFREQ04")
    entries(bundle, "ServiceRequest")[0]["status"] = "revoked"
    assert_answered(post(bundle, target="2000159910"), bundle, None)


# ---- the Endpoint Catalogue ----------------------------------------------------------------------


@pytest.mark.parametrize("target", ["2000099999", "1234567890", "FAIL0401"])
def test_a_target_outside_the_catalogue_is_404_proxy_not_found(edition: str, target: str) -> None:
    response = call(Operation.METADATA, "GET", "/metadata", target=target)
    assert response.status == 404
    assert_valid_fhir(response.body)
    assert response.body == example("proxy-not-found.json")


def test_the_official_suites_invalid_target_is_404_proxy_not_found(edition: str) -> None:
    response = call(Operation.METADATA, "GET", "/metadata", target="invalid", target_system="tests")
    assert (response.status, response.body) == (404, example("proxy-not-found.json"))


@pytest.mark.parametrize(
    "target",
    [
        # the live page's UserTest DoS services
        "2000072489", "2000073917", "1503499715", "2000081230", "2000093816", "1374839566",
        "2000011147", "2000076289", "2000003366", "2000071898", "2000159909", "2000159910",
        # sentinel targets of the live page and of the beta table
        "2000070513", "2000094704", "2000011149",
    ],
)  # fmt: skip
def test_tkw_services_are_in_the_catalogue(edition: str, target: str) -> None:
    assert call(Operation.METADATA, "GET", "/metadata", target=target).status == 200


def test_unknown_targets_accept_routes_any_target(monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, unknown_targets="accept")
    response = call(Operation.METADATA, "GET", "/metadata", target="2000099999")
    assert response.status == 200
    assert response.body["resourceType"] == "CapabilityStatement"


class OneRegisteredService:
    """A service an organisation registered (the shape the async-responses endpoints plug in with)."""

    def is_registered(self, service_id: str, organisation: str) -> bool:
        return service_id == "2000555555"


def test_a_registered_service_is_in_the_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    services = use(monkeypatch)
    assert call(Operation.METADATA, "GET", "/metadata", target="2000555555").status == 404
    services.registered_services.append(OneRegisteredService())
    assert call(Operation.METADATA, "GET", "/metadata", target="2000555555").status == 200
