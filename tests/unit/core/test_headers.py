import base64

import pytest
from bars_support import b64json, organisation, target

from tkw.encoded_headers import HeaderError, decode_end_user_organisation, decode_target_identifier


def test_target_identifier_decodes_system_and_value() -> None:
    decoded = decode_target_identifier(target("2000072489"))
    assert (decoded.system, decoded.value) == ("https://fhir.nhs.uk/Id/dos-service-id", "2000072489")
    assert decoded.token == "https://fhir.nhs.uk/Id/dos-service-id|2000072489"


def test_target_identifier_tolerates_missing_padding() -> None:
    raw = target().rstrip("=")
    assert decode_target_identifier(raw).value == "2000011147"


@pytest.mark.parametrize(
    ("raw", "stage"),
    [
        ("%%%not-base64%%%", "base64"),
        (base64.b64encode(b"\xff\xfe not utf8").decode(), "json"),
        (base64.b64encode(b"plain text").decode(), "json"),
        (b64json(["system", "value"]), "structure"),
        (b64json({"system": "https://fhir.nhs.uk/Id/dos-service-id"}), "structure"),
        (b64json({"value": "2000011147"}), "structure"),
        (b64json({"system": "", "value": "2000011147"}), "structure"),
        (b64json({"system": "x", "value": 2000011147}), "structure"),
    ],
)
def test_target_identifier_failures_say_which_stage(raw: str, stage: str) -> None:
    with pytest.raises(HeaderError) as info:
        decode_target_identifier(raw)
    assert info.value.stage == stage
    assert "NHSD-Target-Identifier" in str(info.value)


def test_end_user_organisation_gives_the_ods_code() -> None:
    assert decode_end_user_organisation(organisation("rxx01")) == "RXX01"


def test_end_user_organisation_accepts_lower_case_id_in_system() -> None:
    raw = b64json(
        {
            "resourceType": "Organization",
            "identifier": [{"system": "https://fhir.nhs.uk/id/ods-organization-code", "value": "A1"}],
        }
    )
    assert decode_end_user_organisation(raw) == "A1"


@pytest.mark.parametrize(
    "data",
    [{"resourceType": "Organization"}, {"identifier": [{"system": "other", "value": "A1"}]}, [1, 2]],
)
def test_end_user_organisation_without_ods_identifier_is_refused(data: object) -> None:
    with pytest.raises(HeaderError):
        decode_end_user_organisation(b64json(data))
