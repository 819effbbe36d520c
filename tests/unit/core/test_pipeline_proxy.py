"""The proxy's checks, in the proxy's order, before any scenario logic (BARS-API.md §4)."""

import base64
import json

import pytest
from bars_support import BASE, assert_outcome, assert_valid_fhir, b64json, bars_headers, example

from tkw.http import ApiRequest
from tkw.pipeline import handle, handle_unrouted
from tkw.routes import Operation


def request(
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None = None,
    query: dict[str, tuple[str, ...]] | None = None,
) -> ApiRequest:
    return ApiRequest(
        method=method,
        path=BASE + path,
        headers={k.lower(): (v,) for k, v in headers.items()},
        query=query or {},
        body=body,
        base_url="http://127.0.0.1:3000",
    )


ROUTED = [
    (Operation.METADATA, "GET", "/metadata"),
    (Operation.MESSAGE_DEFINITION_SEARCH, "GET", "/MessageDefinition"),
    (Operation.SLOT_SEARCH, "GET", "/Slot"),
    (Operation.PROCESS_MESSAGE, "POST", "/$process-message"),
    (Operation.APPOINTMENT_SEARCH, "GET", "/Appointment"),
    (Operation.APPOINTMENT_READ, "GET", "/Appointment/ce1c4ced-2a84-4198-9982-9caf894d0bb7"),
    (Operation.SERVICE_REQUEST_SEARCH, "GET", "/ServiceRequest"),
    (Operation.SERVICE_REQUEST_READ, "GET", "/ServiceRequest/79120f41-a431-4f08-bcc5-1e67006fcae0"),
]


@pytest.mark.parametrize(("operation", "method", "path"), ROUTED)
@pytest.mark.parametrize("missing", ["X-Request-Id", "X-Correlation-Id"])
def test_missing_transaction_header_is_400_bad_request(
    operation: Operation, method: str, path: str, missing: str
) -> None:
    headers = bars_headers()
    del headers[missing]
    response = handle(operation, request(method, path, headers))
    assert response.status == 400
    issue = assert_outcome(response.body, "BAD_REQUEST", "invalid")
    assert missing in issue["diagnostics"]
    assert issue["location"] == [f"http.{missing}"]


@pytest.mark.parametrize(("operation", "method", "path"), ROUTED[1:])
def test_missing_target_identifier_is_proxy_bad_request(operation: Operation, method: str, path: str) -> None:
    response = handle(operation, request(method, path, bars_headers(target_value=None)))
    assert response.status == 400
    assert_outcome(response.body, "PROXY_BAD_REQUEST", "invalid")


def test_target_identifier_that_is_not_base64_is_proxy_bad_request() -> None:
    headers = bars_headers() | {"NHSD-Target-Identifier": "not*base64!"}
    response = handle(Operation.SLOT_SEARCH, request("GET", "/Slot", headers))
    assert response.status == 400
    issue = assert_outcome(response.body, "PROXY_BAD_REQUEST", "invalid")
    assert issue["diagnostics"] == "The base64 decoding of the NHSD-Target-Identifier header failed."


@pytest.mark.parametrize(
    "decoded",
    [b64json({"value": "2000011147"}), b64json({"system": "x"}), base64.b64encode(b"not json").decode(), b64json([])],
)
def test_target_identifier_without_system_and_value_is_structure_error(decoded: str) -> None:
    headers = bars_headers() | {"NHSD-Target-Identifier": decoded}
    response = handle(Operation.SLOT_SEARCH, request("GET", "/Slot", headers))
    assert response.status == 400
    issue = assert_outcome(response.body, "PROXY_BAD_REQUEST", "structure")
    assert "Invalid schema for NHSD-Target-Identifier header" in issue["diagnostics"]


def test_metadata_without_target_is_the_apis_own_capability_statement_without_any_header() -> None:
    response = handle(Operation.METADATA, request("GET", "/metadata", {}))
    assert response.status == 200
    statement = response.body
    assert_valid_fhir(statement)
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["url"] == "https://int.api.service.nhs.uk/booking-and-referral/FHIR/R4"


def test_transaction_headers_are_echoed_on_success_and_error() -> None:
    headers = bars_headers()
    ok = handle(Operation.METADATA, request("GET", "/metadata", headers))
    assert ok.headers["X-Request-Id"] == headers["X-Request-Id"]
    assert ok.headers["X-Correlation-Id"] == headers["X-Correlation-Id"]
    bad = handle(
        Operation.SLOT_SEARCH,
        request("GET", "/Slot", bars_headers(target_value=None) | {"X-Request-Id": "r-1", "X-Correlation-Id": "c-1"}),
    )
    assert (bad.status, bad.headers["X-Request-Id"], bad.headers["X-Correlation-Id"]) == (400, "r-1", "c-1")


def test_ping_needs_no_headers() -> None:
    response = handle(Operation.PING, request("GET", "/_ping", {}))
    assert response.status == 200
    assert response.content_type == "application/json"
    assert set(response.body) >= {"version", "revision", "releaseId", "commitId"}


def test_unknown_path_is_404_not_found() -> None:
    response = handle_unrouted(request("GET", "/Patient/123", bars_headers()))
    assert response.status == 404
    assert_outcome(response.body, "NOT_FOUND", "not-found")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/metadata", "GET"),
        ("DELETE", "/Slot", "GET"),
        ("GET", "/$process-message", "POST"),
        ("PUT", "/Appointment/ce1c4ced-2a84-4198-9982-9caf894d0bb7", "GET"),
        ("PATCH", "/ServiceRequest", "GET"),
        ("POST", "/MessageDefinition", "GET"),  # the official suite's method-not-allowed test
    ],
)
def test_wrong_method_on_known_path_is_405_with_allow(method: str, path: str, allow: str) -> None:
    response = handle_unrouted(request(method, path, bars_headers()))
    assert response.status == 405
    assert response.headers["Allow"] == allow
    assert_outcome(response.body, "REC_METHOD_NOT_ALLOWED", "not-supported")


def _rest_event(method: str, path: str, headers: dict[str, str]) -> dict[str, object]:
    return {
        "httpMethod": method,
        "path": path,
        "resource": path,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "requestContext": {"stage": "v1", "requestId": "r-1", "domainName": "localhost"},
        "body": None,
        "isBase64Encoded": False,
    }


def test_an_unexpected_failure_is_a_fhir_500_not_a_stack_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    """The edge's exception handler: any crash below it is a 500 OperationOutcome, headers echoed."""
    import tkw.answer
    from tkw.edge import bars_resolver, serve

    def explode(*_: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(tkw.answer, "respond", explode)
    app = bars_resolver()

    @app.get(BASE + "/Slot")
    def slot() -> object:
        return serve(Operation.SLOT_SEARCH, app)

    headers = bars_headers()
    result = app.resolve(_rest_event("GET", BASE + "/Slot", headers), None)
    assert result["statusCode"] == 500
    body = json.loads(result["body"])
    issue = assert_outcome(body, "REC_SERVER_ERROR", "exception")
    assert "secret internal detail" not in result["body"]
    assert "Traceback" not in issue["diagnostics"]
    echoed = {k.lower(): v for k, v in (result.get("multiValueHeaders") or {}).items()}
    assert echoed["x-request-id"] == [headers["X-Request-Id"]]
    assert echoed["x-correlation-id"] == [headers["X-Correlation-Id"]]


def test_wrong_method_body_follows_the_official_method_not_allowed_example() -> None:
    response = handle_unrouted(request("DELETE", "/Slot", bars_headers()))
    official = example("method-not-allowed.json")["issue"][0]
    issue = response.body["issue"][0]
    assert (issue["severity"], issue["code"], issue["details"]) == (
        official["severity"],
        official["code"],
        official["details"],
    )
    assert issue["diagnostics"].startswith("This method is not allowed: DELETE")


def test_wrong_method_still_passes_the_proxy_checks_first() -> None:
    """The live proxy forwards every method, but only after its own header checks."""
    response = handle_unrouted(request("DELETE", "/Slot", bars_headers(target_value=None)))
    assert response.status == 400
    assert_outcome(response.body, "PROXY_BAD_REQUEST")


@pytest.mark.parametrize(
    ("path", "meant"),
    [
        ("/Metadata", "/metadata"),
        ("/messagedefinition", "/MessageDefinition"),
        ("/$Process-Message", "/$process-message"),
        ("/slot", "/Slot"),
        ("/appointment/ce1c4ced-2a84-4198-9982-9caf894d0bb7", "/Appointment/ce1c4ced-2a84-4198-9982-9caf894d0bb7"),
        ("/SERVICEREQUEST", "/ServiceRequest"),
    ],
)
def test_a_path_in_the_wrong_case_is_404_naming_the_path_meant(path: str, meant: str) -> None:
    response = handle_unrouted(request("GET", path, bars_headers()))
    assert response.status == 404
    issue = assert_outcome(response.body, "NOT_FOUND", "not-found")
    assert f"did you mean {BASE}{meant}?" in issue["diagnostics"]


def test_the_base_path_in_the_wrong_case_is_named_too() -> None:
    response = handle_unrouted(
        ApiRequest(
            method="GET",
            path="/booking-and-referral/fhir/r4/Slot",
            headers={k.lower(): (v,) for k, v in bars_headers().items()},
            query={},
        )
    )
    assert response.status == 404
    assert f"did you mean {BASE}/Slot?" in response.body["issue"][0]["diagnostics"]


def test_status_without_an_apikey_is_401_access_denied() -> None:
    response = handle_unrouted(request("GET", "/_status", {}))
    assert (response.status, response.content_type, response.body) == (401, "text/plain", "Access Denied")


def test_status_with_an_apikey_has_the_platform_shape() -> None:
    response = handle_unrouted(request("GET", "/_status", {"apikey": "any"}))
    assert response.status == 200
    assert response.content_type == "application/json"
    official = example("_status.json")
    assert set(response.body) >= set(official)
    assert response.body["status"] == "pass"
    ping = handle(Operation.PING, request("GET", "/_ping", {})).body
    assert response.body["commitId"] == ping["commitId"], "the official suite compares _status with the deploy"
    check = next(iter(response.body["checks"].values()))[0]
    assert set(check) == set(official["checks"]["spine:status"][0])
