"""Property tests of ``tkw.encoded_headers``: the base64-JSON BaRS headers decode, or fail with a reason.

Whatever a sender puts in ``NHSD-Target-Identifier`` or ``NHSD-End-User-Organisation``, decoding
returns a well-formed value or raises :class:`HeaderError` with its stage; never anything else
(anything else would surface as a server error, or as a missing report finding).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from tkw.encoded_headers import (
    DOS_SYSTEM,
    ODS_SYSTEM,
    HeaderError,
    TargetIdentifier,
    decode_base64_json,
    decode_end_user_organisation,
    decode_target_identifier,
    encode_base64_json,
)

STAGES = {"base64", "json", "structure"}
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
# Values that make sense as a target or an ODS code: no surrounding whitespace, not empty.
tokens = st.text(min_size=1, max_size=40).map(str.strip).filter(bool)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# Depth a base64 header can reach well within API Gateway's 10 KB of headers.
DEEP_JSON = b64(b"[" * 5000 + b"]" * 5000)
HUGE_NUMBER = b64(b'{"system": "x", "value": ' + b"9" * 5000 + b"}")


@given(st.text(max_size=200))
@example(DEEP_JSON)
@example(HUGE_NUMBER)
@example("é")  # not ASCII: not base64
@example(b64(b"\xff\xfe"))
def test_target_decoding_returns_a_target_or_says_why(raw: str) -> None:
    try:
        found = decode_target_identifier(raw)
    except HeaderError as err:
        assert err.stage in STAGES
        assert "NHSD-Target-Identifier" in str(err)
        return
    assert found.system and found.value
    assert found.system == found.system.strip() and found.value == found.value.strip()


@given(json_values)
@example({"system": DOS_SYSTEM, "value": " 2000011147 "})
@example({"system": " ", "value": "1"})
def test_any_json_target_is_a_target_exactly_when_it_has_string_system_and_value(data: Any) -> None:
    raw = encode_base64_json(data)
    well_formed = (
        isinstance(data, dict)
        and isinstance(data.get("system"), str)
        and isinstance(data.get("value"), str)
        and bool(data["system"].strip())
        and bool(data["value"].strip())
    )
    try:
        found = decode_target_identifier(raw)
    except HeaderError as err:
        assert not well_formed
        assert err.stage == "structure"
        return
    assert well_formed
    assert found == TargetIdentifier(data["system"].strip(), data["value"].strip())


@given(system=tokens, value=tokens, strip_padding=st.booleans())
def test_target_round_trip(system: str, value: str, strip_padding: bool) -> None:
    raw = encode_base64_json({"system": system, "value": value})
    if strip_padding:
        raw = raw.rstrip("=")
    found = decode_target_identifier(raw)
    assert found == TargetIdentifier(system, value)
    assert found.token == f"{system}|{value}"


@given(st.binary(max_size=200))
def test_base64_of_any_bytes_is_json_or_a_json_stage_error(raw: bytes) -> None:
    try:
        data = decode_base64_json(b64(raw), "NHSD-Requesting-Software")
    except HeaderError as err:
        assert err.stage == "json", "valid base64 never fails at the base64 stage"
        return
    assert json.loads(raw.decode("utf-8")) == data


@given(st.text(max_size=200))
@example(DEEP_JSON)
@example(b64(b'{"identifier": ' + b"[" * 3000 + b"]" * 3000 + b"}"))
def test_organisation_decoding_returns_an_ods_code_or_says_why(raw: str) -> None:
    try:
        ods = decode_end_user_organisation(raw)
    except HeaderError as err:
        assert err.stage in STAGES
        return
    assert ods and ods == ods.strip().upper()


@given(ods=tokens, name=st.text(max_size=20), single=st.booleans(), system_case=st.sampled_from([str.lower, str.upper]))
def test_organisation_round_trip(ods: str, name: str, single: bool, system_case: Any) -> None:
    identifier: Any = {"system": system_case(ODS_SYSTEM), "value": ods}
    data = {"resourceType": "Organization", "identifier": identifier if single else [identifier], "name": name}
    assert decode_end_user_organisation(encode_base64_json(data)) == ods.upper()


@given(json_values)
def test_any_json_organisation_decodes_or_says_why(data: Any) -> None:
    try:
        ods = decode_end_user_organisation(encode_base64_json(data))
    except HeaderError as err:
        assert err.stage == "structure"
        return
    assert ods
