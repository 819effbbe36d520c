"""Decoding the BaRS base64-JSON headers (NHSD-Target-Identifier, NHSD-End-User-Organisation, ...).

Pure functions: they raise :class:`HeaderError` with a human reason, and callers decide which
BaRS code that maps to (the proxy's for the target header, findings for the others).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, NamedTuple

ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
DOS_SYSTEM = "https://fhir.nhs.uk/Id/dos-service-id"
# What an organisation can be named by: ODS codes are letters and digits (hyphens tolerated for test
# organisations).
ODS_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,15}$")
# What NHS ODS issues: 3 to 10 letters and digits (a code outside it is worth a warning, no more).
ISSUED_ODS_CODE = re.compile(r"^[A-Za-z0-9]{3,10}$")


class HeaderError(ValueError):
    """A header could not be decoded or has the wrong shape; ``str()`` says why."""

    def __init__(self, reason: str, *, stage: str) -> None:
        super().__init__(reason)
        self.stage = stage  # "base64" | "json" | "structure"


def decode_base64_json(value: str, header: str) -> Any:
    """Standard base64 (padding tolerated if missing) of UTF-8 JSON."""
    text = value.strip()
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise HeaderError(f"The {header} header is not valid base64.", stage="base64") from None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: JSON nested too deeply
        raise HeaderError(f"The {header} header does not decode to JSON.", stage="json") from None


class TargetIdentifier(NamedTuple):
    system: str
    value: str

    @property
    def token(self) -> str:
        return f"{self.system}|{self.value}"


def decode_target_identifier(value: str) -> TargetIdentifier:
    """NHSD-Target-Identifier: base64 of ``{"system": ..., "value": ...}`` (both non-empty strings)."""
    data = decode_base64_json(value, "NHSD-Target-Identifier")
    if not isinstance(data, dict):
        raise HeaderError("NHSD-Target-Identifier must decode to a JSON object.", stage="structure")
    system, val = data.get("system"), data.get("value")
    missing = [k for k, v in (("system", system), ("value", val)) if not isinstance(v, str) or not v.strip()]
    if missing:
        raise HeaderError(
            f"NHSD-Target-Identifier must have non-empty string {' and '.join(missing)}.", stage="structure"
        )
    assert isinstance(system, str) and isinstance(val, str)
    return TargetIdentifier(system=system.strip(), value=val.strip())


def decode_end_user_organisation(value: str) -> str:
    """ODS code from NHSD-End-User-Organisation (an Organization with an ODS identifier)."""
    data = decode_base64_json(value, "NHSD-End-User-Organisation")
    if not isinstance(data, dict):
        raise HeaderError("NHSD-End-User-Organisation must decode to a JSON object.", stage="structure")
    identifiers = data.get("identifier")
    if isinstance(identifiers, dict):  # tolerate a single identifier object
        identifiers = [identifiers]
    if not isinstance(identifiers, list):
        raise HeaderError("NHSD-End-User-Organisation has no identifier list.", stage="structure")
    for ident in identifiers:
        if (
            isinstance(ident, dict)
            and isinstance(ident.get("system"), str)
            and ident["system"].lower() == ODS_SYSTEM.lower()
            and isinstance(ident.get("value"), str)
            and ident["value"].strip()
        ):
            return str(ident["value"]).strip().upper()
    raise HeaderError(
        f"NHSD-End-User-Organisation has no identifier with system {ODS_SYSTEM} and a value.",
        stage="structure",
    )


def encode_base64_json(data: Any) -> str:
    """The inverse, for examples, tests and the receiver suite."""
    return base64.b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()
