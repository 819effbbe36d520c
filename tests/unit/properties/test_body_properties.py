"""Property tests of ``$process-message`` body admission (``tkw.fhir.message_body.parse_message_body``).

Whatever the bytes and the Content-Type, admission returns a Bundle dict or raises a BarsError
with 400, 413 or 415 and a BaRS code; nothing else may escape (it would be a 500 to the sender).
"""

from __future__ import annotations

import json
from typing import Any

from fuzz.bundles import json_values, message_bundles
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tkw.fhir.message_body import parse_message_body
from tkw.fhir.outcome import BarsError
from tkw.http import ApiRequest

LIMIT = 64 * 1024  # a small limit keeps the 413 reachable
CONTENT_TYPES = ("application/fhir+json", "application/json; charset=utf-8", "application/fhir+xml", "text/plain", "")


def admit(body: bytes, content_type: str) -> dict[str, Any] | BarsError:
    headers = {"content-type": (content_type,)} if content_type else {}
    request = ApiRequest(method="POST", path="/$process-message", headers=headers, body=body)
    try:
        return parse_message_body(request, LIMIT)
    except BarsError as err:
        return err


def check(result: dict[str, Any] | BarsError) -> None:
    if isinstance(result, BarsError):
        assert result.status in (400, 413, 415), result
        assert all(i.bars_code.startswith("REC_") and i.diagnostics for i in result.issues)
        assert len(str(result)) < 20_000, "diagnostics stay short whatever was sent"
    else:
        assert result["resourceType"] == "Bundle"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(CONTENT_TYPES))
@example(b"[" * 100_000, "application/fhir+json")
@example(b'{"resourceType": "Bundle", "total": ' + b"9" * 5000 + b"}", "application/fhir+json")
@example(b'{"resourceType": "Bundle", "type": "message", "total": NaN}', "application/fhir+json")
@example(b"\xef\xbb\xbf{}", "application/fhir+json")
@example(b" " * (LIMIT + 1), "application/fhir+json")
def test_any_bytes_are_admitted_or_refused_with_a_bars_error(body: bytes, content_type: str) -> None:
    check(admit(body, content_type))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(("resourceType", "type", "entry", "id", "meta", "x")), json_values, max_size=5))
def test_any_json_object_is_admitted_or_refused(data: dict[str, Any]) -> None:
    data = {**data, "resourceType": "Bundle"} if "resourceType" not in data else data
    check(admit(json.dumps(data).encode(), "application/fhir+json"))


@settings(max_examples=150, deadline=None)
@given(message_bundles())
@example({"resourceType": "Bundle", "type": "message", "entry": [{"resource": {"resourceType": "Apointment"}}]})
@example({"resourceType": "Bundle", "type": "message", "entry": [{"resource": {"resourceType": {"a": 1}}}]})
def test_mutated_message_bundles_are_admitted_or_refused(bundle: dict[str, Any]) -> None:
    body = json.dumps(bundle).encode()
    check(admit(body, "application/fhir+json") if len(body) <= LIMIT else admit(body[:LIMIT], "application/json"))
