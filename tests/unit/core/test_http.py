import base64

from tkw.http import ApiRequest, ApiResponse


def _event(**overrides: object) -> dict:
    event: dict = {
        "httpMethod": "get",
        "path": "/booking-and-referral/FHIR/R4/Slot",
        "headers": {"X-Request-Id": "last"},
        "multiValueHeaders": {"X-Request-Id": ["first", "last"], "Host": ["abc.execute-api.eu-west-2.amazonaws.com"]},
        "queryStringParameters": {"start": "le2"},
        "multiValueQueryStringParameters": {"start": ["ge1", "le2"], "status": ["free"]},
        "pathParameters": None,
        "requestContext": {"stage": "v1", "requestTimeEpoch": 1700000000000},
        "body": None,
        "isBase64Encoded": False,
    }
    event.update(overrides)
    return event


def test_headers_are_case_insensitive_and_keep_every_value() -> None:
    request = ApiRequest.from_event(_event())
    assert request.method == "GET"
    assert request.header("x-request-id") == "first"
    assert request.header("X-REQUEST-ID") == "first"
    assert request.header_values("X-Request-Id") == ("first", "last")
    assert request.header("NHSD-Target-Identifier") is None


def test_repeated_query_parameters_are_all_kept() -> None:
    request = ApiRequest.from_event(_event())
    assert request.params("start") == ("ge1", "le2")
    assert request.param("status") == "free"


def test_single_value_maps_are_used_when_multi_value_maps_are_absent() -> None:
    request = ApiRequest.from_event(_event(multiValueHeaders=None, multiValueQueryStringParameters=None))
    assert request.header("x-request-id") == "last"
    assert request.params("start") == ("le2",)


def test_base64_bodies_are_decoded() -> None:
    request = ApiRequest.from_event(_event(body=base64.b64encode(b"\x00\x01{}").decode(), isBase64Encoded=True))
    assert request.body == b"\x00\x01{}"


def test_base_url_includes_the_stage_on_execute_api_hosts_only() -> None:
    assert ApiRequest.from_event(_event()).base_url == "https://abc.execute-api.eu-west-2.amazonaws.com/v1"
    local = _event(multiValueHeaders={"Host": ["127.0.0.1:3000"], "X-Forwarded-Proto": ["http"]})
    assert ApiRequest.from_event(local).base_url == "http://127.0.0.1:3000"


def test_response_serialises_json_compactly() -> None:
    assert ApiResponse(201, {"a": "é"}).body_text() == '{"a":"é"}'
    assert ApiResponse(408).body_text() == ""
