"""The foundation over real HTTP: every route, the proxy checks, bad input, concurrency, shutdown."""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from bars_support import assert_outcome, assert_valid_fhir, bars_headers, example, target
from emulator_support import Emulator, start_emulator, stop_emulator

ROUTES = [
    ("GET", "/metadata"),
    ("GET", "/MessageDefinition?context=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fdos-service-id%7C2000011147"),
    (
        "GET",
        "/Slot?status=free&start=ge2026-11-01T09:00:00%2B00:00&start=le2026-11-30T17:00:00%2B00:00"
        "&Schedule.actor%3AHealthcareService=2000072489&_include=Slot%3Aschedule"
        "&_include=Schedule%3Aactor%3AHealthcareService",
    ),
    ("GET", "/Appointment?patient%3Aidentifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9054613556"),
    ("GET", "/Appointment/ce1c4ced-2a84-4198-9982-9caf894d0bb7"),
    ("GET", "/ServiceRequest?patient%3Aidentifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9054613556"),
    ("GET", "/ServiceRequest/79120f41-a431-4f08-bcc5-1e67006fcae0"),
]


def test_ping_answers_200_json_without_headers(emulator: Emulator) -> None:
    result = emulator.bars("GET", "/_ping")
    assert result.status == 200
    assert result.header("Content-Type") == "application/json"
    assert "version" in result.json


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_get_route_answers_valid_fhir(emulator: Emulator, method: str, path: str) -> None:
    headers = bars_headers()
    result = emulator.bars(method, path, headers)
    assert result.status == 200, result.raw[:500]
    assert result.header("Content-Type") == "application/fhir+json"
    assert result.header("X-Request-Id") == headers["X-Request-Id"]
    assert result.header("X-Correlation-Id") == headers["X-Correlation-Id"]
    assert_valid_fhir(result.json)


def test_booking_process_message_answers_a_valid_message_bundle(emulator: Emulator) -> None:
    headers = bars_headers() | {"Content-Type": "application/fhir+json"}
    result = emulator.bars(
        "POST", "/$process-message", headers, json.dumps(example("process_message/POST-body.json")).encode()
    )
    assert result.status == 200, result.raw[:500]
    bundle = result.json
    assert_valid_fhir(bundle)
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "message")


def test_metadata_without_target_needs_no_headers(emulator: Emulator) -> None:
    result = emulator.bars("GET", "/metadata")
    assert result.status == 200
    assert result.json["resourceType"] == "CapabilityStatement"


def test_header_names_are_case_insensitive(emulator: Emulator) -> None:
    headers = {k.lower() if i % 2 else k.upper(): v for i, (k, v) in enumerate(bars_headers().items())}
    result = emulator.bars("GET", ROUTES[4][1], headers)
    assert result.status == 200, result.raw[:300]


def test_missing_request_id_is_400_bad_request_over_http(emulator: Emulator) -> None:
    headers = bars_headers()
    del headers["X-Request-Id"]
    result = emulator.bars("GET", "/Slot", headers)
    assert result.status == 400
    assert_outcome(result.json, "BAD_REQUEST", "invalid")
    assert result.header("X-Correlation-Id") == headers["X-Correlation-Id"]


@pytest.mark.parametrize(
    ("target_header", "issue_code"),
    [(None, "invalid"), ("@@@", "invalid"), (target().replace("=", "") + "x", "structure")],
)
def test_bad_target_identifier_is_proxy_bad_request_over_http(
    emulator: Emulator, target_header: str | None, issue_code: str
) -> None:
    headers = bars_headers(target_value=None)
    if target_header is not None:
        headers["NHSD-Target-Identifier"] = target_header
    result = emulator.bars("GET", "/Slot", headers)
    assert result.status == 400
    assert_outcome(result.json, "PROXY_BAD_REQUEST", issue_code)


def test_unknown_path_is_404_and_wrong_method_405(emulator: Emulator) -> None:
    missing = emulator.bars("GET", "/Patient/1", bars_headers())
    assert missing.status == 404
    assert_outcome(missing.json, "NOT_FOUND", "not-found")
    outside = emulator.request("GET", "/", {})
    assert outside.status == 404
    wrong = emulator.bars("DELETE", "/$process-message", bars_headers())
    assert wrong.status == 405
    assert wrong.header("Allow") == "POST"
    assert_outcome(wrong.json, "REC_METHOD_NOT_ALLOWED", "not-supported")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{not json", "application/fhir+json", 400, "REC_BAD_REQUEST"),
        (b'{"resourceType": "Patient"}', "application/fhir+json", 400, "REC_BAD_REQUEST"),
        (b"", "application/fhir+json", 400, "REC_BAD_REQUEST"),
        (b"<Bundle/>", "application/fhir+xml", 415, "REC_UNSUPPORTED_MEDIA_TYPE"),
        (b"\xff\xfe{}", "application/fhir+json", 400, "REC_BAD_REQUEST"),
    ],
)
def test_bad_bodies_over_http(emulator: Emulator, body: bytes, content_type: str, status: int, code: str) -> None:
    result = emulator.bars("POST", "/$process-message", bars_headers() | {"Content-Type": content_type}, body)
    assert result.status == status
    assert_outcome(result.json, code)


def test_body_over_5_mb_over_http(emulator: Emulator) -> None:
    body = b'{"resourceType":"Bundle","x":"' + b"a" * (5 * 1024 * 1024 + 10) + b'"}'
    result = emulator.bars(
        "POST", "/$process-message", bars_headers() | {"Content-Type": "application/fhir+json"}, body
    )
    assert result.status == 413
    assert_outcome(result.json, "REC_PAYLOAD_TOO_LARGE")


def test_concurrent_requests_are_all_answered(emulator: Emulator) -> None:
    def call(i: int) -> tuple[int, str | None, str]:
        headers = bars_headers()
        result = emulator.bars("GET", ROUTES[i % len(ROUTES)][1], headers)
        return result.status, result.header("X-Request-Id"), headers["X-Request-Id"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(call, range(64)))
    assert all(status == 200 for status, _, _ in results)
    assert all(echoed == sent for _, echoed, sent in results)


def test_runner_logs_each_request_and_stops_cleanly_on_sigterm() -> None:
    running = start_emulator()
    headers = bars_headers()
    assert running.bars("GET", "/metadata", headers).status == 200
    output = stop_emulator(running)
    assert running.process.returncode == 0, output
    assert "GET /booking-and-referral/FHIR/R4/metadata -> 200" in output
    assert "stopping (SIGTERM)" in output


def test_status_is_the_platforms_health_check(emulator: Emulator) -> None:
    assert emulator.bars("GET", "/_status").status == 401
    result = emulator.bars("GET", "/_status", {"apikey": "local"})
    assert result.status == 200
    assert result.header("Content-Type") == "application/json"
    assert result.json["status"] == "pass"
    assert result.json["commitId"] == emulator.bars("GET", "/_ping").json["commitId"]


def test_a_path_in_the_wrong_case_is_404_naming_the_path_meant(emulator: Emulator) -> None:
    result = emulator.bars("GET", "/slot?status=free", bars_headers())
    assert result.status == 404
    issue = assert_outcome(result.json, "NOT_FOUND", "not-found")
    assert "did you mean /booking-and-referral/FHIR/R4/Slot?" in issue["diagnostics"]


def test_a_target_outside_the_endpoint_catalogue_is_proxy_not_found(emulator: Emulator) -> None:
    result = emulator.bars("GET", "/metadata", bars_headers(target_value="2000099999"))
    assert (result.status, result.json) == (404, example("proxy-not-found.json"))
    assert emulator.bars("GET", "/metadata", bars_headers(target_value="2000159910")).status == 200


def test_tkw_edition_and_unknown_targets_are_read_from_the_environment() -> None:
    beta = start_emulator({"TKW_EDITION": "beta", "UNKNOWN_TARGETS": "accept"})
    try:
        assert beta.bars("GET", "/_ping").json["tkwEdition"] == "beta"
        assert beta.bars("GET", "/metadata", bars_headers(target_value="2000099999")).status == 200
    finally:
        stop_emulator(beta)


def _raw_answers(emulator: Emulator, request: bytes, count: int = 1) -> list[tuple[bytes, bytes]]:
    """Send bytes as they are (what http.client will not: a chunked body, a false Content-Length,
    pipelined requests); the first ``count`` answers as (head, body), framed by Content-Length."""
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(emulator.root)
    answers: list[tuple[bytes, bytes]] = []
    with socket.create_connection((where.hostname, where.port), timeout=30) as sock:
        sock.sendall(request)
        received = b""
        while len(answers) < count and (chunk := sock.recv(65536)):
            received += chunk
            while len(answers) < count and b"\r\n\r\n" in received:
                head, _, rest = received.partition(b"\r\n\r\n")
                length = next(
                    int(v)
                    for k, _, v in (line.partition(b":") for line in head.split(b"\r\n")[1:])
                    if k.strip().lower() == b"content-length"
                )
                if len(rest) < length:
                    break
                answers.append((head, rest[:length]))
                received = rest[length:]
    assert len(answers) == count, f"{len(answers)} complete answers of {count}: {received[:300]!r}"
    return answers


def _raw_until_closed(emulator: Emulator, request: bytes) -> bytes:
    """Everything the emulator sends back to ``request`` (sent as it is) until it closes the connection."""
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(emulator.root)
    with socket.create_connection((where.hostname, where.port), timeout=30) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def _raw_exchange(emulator: Emulator, request: bytes) -> tuple[int, bytes]:
    """The status and body of the answer to ``request`` sent as it is."""
    head, body = _raw_answers(emulator, request)[0]
    return int(head.split(b" ")[1]), body


def _request_head(method: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"{method} /booking-and-referral/FHIR/R4/$process-message HTTP/1.1",
        "Host: 127.0.0.1",
        "Connection: close",
    ]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_chunked_body_is_answered_as_the_same_body_with_a_length(emulator: Emulator) -> None:
    headers = bars_headers() | {"Content-Type": "application/fhir+json", "Transfer-Encoding": "chunked"}
    body = json.dumps(example("process_message/POST-body.json")).encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:1000], body[1000:])) + b"0\r\n\r\n"
    status, answer = _raw_exchange(emulator, _request_head("POST", headers) + chunked)
    assert status == 200, answer[:500]
    bundle = json.loads(answer)
    assert_valid_fhir(bundle)
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "message")


def test_a_chunk_size_that_is_not_hexadecimal_is_400_not_a_dropped_connection(emulator: Emulator) -> None:
    headers = bars_headers() | {"Content-Type": "application/fhir+json", "Transfer-Encoding": "chunked"}
    status, answer = _raw_exchange(emulator, _request_head("POST", headers) + b"zz\r\n{}\r\n0\r\n\r\n")
    assert status == 400
    assert json.loads(answer) == {"message": "Bad Request"}


def test_a_body_over_api_gateways_10_mb_is_413_before_it_is_read(emulator: Emulator) -> None:
    headers = bars_headers() | {"Content-Type": "application/fhir+json", "Content-Length": str(10 * 1024 * 1024 + 1)}
    status, answer = _raw_exchange(emulator, _request_head("POST", headers))  # no body sent at all
    assert status == 413
    assert json.loads(answer) == {"message": "Request Too Long"}


def test_expect_100_continue_gets_its_interim_answer_before_the_body_is_sent(emulator: Emulator) -> None:
    """curl and SDKs send ``Expect: 100-continue`` with large bodies and hold the body back until
    the server says "100 Continue" (answers are written buffered: the interim one must still leave)."""
    import socket
    from urllib.parse import urlsplit

    body = json.dumps(example("process_message/POST-body.json")).encode()
    headers = bars_headers() | {
        "Content-Type": "application/fhir+json",
        "Content-Length": str(len(body)),
        "Expect": "100-continue",
    }
    where = urlsplit(emulator.root)
    with socket.create_connection((where.hostname, where.port), timeout=30) as sock:
        sock.sendall(_request_head("POST", headers))
        interim = sock.recv(65536)  # the body is not sent until this arrives
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n"), interim[:200]
        sock.sendall(body)
        received = interim.partition(b"\r\n\r\n")[2]
        while chunk := sock.recv(65536):
            received += chunk
    head, _, answer = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head[:200]
    bundle = json.loads(answer)
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "message")


def test_an_unreadable_request_line_is_answered_400_before_the_connection_closes(emulator: Emulator) -> None:
    """The standard library's answer (HTTP/0.9 style, no status line: the request line named no
    version) leaves before the connection closes."""
    received = _raw_until_closed(emulator, b"NOT A REQUEST LINE AT ALL\r\n\r\n")
    assert b"Error code: 400" in received, received[:300]


def test_answers_on_one_keep_alive_connection_each_arrive_whole(emulator: Emulator) -> None:
    """Two requests sent at once on one connection: two complete answers, in order."""
    body = json.dumps(example("process_message/POST-body.json")).encode()
    heads = [
        _request_head(
            "POST", bars_headers() | {"Content-Type": "application/fhir+json", "Content-Length": str(len(body))}
        ).replace(b"Connection: close", b"Connection: keep-alive")
        + body
        for _ in range(2)
    ]
    answers = _raw_answers(emulator, b"".join(heads), 2)
    assert [head.split(b" ")[1] for head, _ in answers] == [b"200", b"200"]
    assert [json.loads(answer)["type"] for _, answer in answers] == ["message", "message"]


def test_a_header_section_past_the_limits_is_431(emulator: Emulator) -> None:
    many = "".join(f"X-Field-{i}: {i}\r\n" for i in range(150))
    answer = _raw_until_closed(
        emulator, f"GET /booking-and-referral/FHIR/R4/_ping HTTP/1.1\r\nHost: a\r\n{many}\r\n".encode()
    )
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    long_line = "X-Long: " + "a" * 70_000
    answer = _raw_until_closed(
        emulator, f"GET /booking-and-referral/FHIR/R4/_ping HTTP/1.1\r\n{long_line}\r\n\r\n".encode()
    )
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


def test_folded_and_repeated_headers_reach_the_api_as_sent(emulator: Emulator) -> None:
    """An obsolete folded header line is part of its field, unfolded to one space (RFC 9112 §5.2) before
    the API sees it (so its echo is one line); a repeated header's first value counts."""
    request = (
        b"GET /booking-and-referral/FHIR/R4/_ping HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
        b"X-Request-Id: first\r\nx-request-id: second\r\nX-Correlation-Id: one\r\n two\r\n\r\n"
    )
    answer = _raw_until_closed(emulator, request)
    head = answer.partition(b"\r\n\r\n")[0].decode("iso-8859-1")
    assert head.startswith("HTTP/1.1 200 "), head
    import http.client

    echoed = http.client.parse_headers(io.BytesIO(head.split("\r\n", 1)[1].encode("iso-8859-1") + b"\r\n\r\n"))
    assert echoed.get("X-Request-Id") == "first", head
    assert echoed.get("X-Correlation-Id") == "one two", head
    assert "X-Correlation-Id: one two\r\n" in head, head
