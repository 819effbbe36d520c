"""The BaRS proxy's own checks (BARS-API.md §4), with the proxy's error codes."""

from __future__ import annotations

from typing import Literal

from tkw.catalogue import EndpointCatalogue
from tkw.encoded_headers import HeaderError, TargetIdentifier, decode_target_identifier
from tkw.fhir.outcome import BarsError
from tkw.http import ApiRequest


def check_transaction_headers(request: ApiRequest) -> None:
    """X-Request-Id and X-Correlation-Id must be present (presence only, as the proxy checks)."""
    missing = [h for h in ("X-Request-Id", "X-Correlation-Id") if not (request.header(h) or "").strip()]
    if missing:
        raise BarsError.of(
            400,
            "BAD_REQUEST",
            "invalid",
            f"The {' and '.join(missing)} header{'s are' if len(missing) > 1 else ' is'} missing; "
            "every BaRS request must carry both X-Request-Id and X-Correlation-Id.",
            header=missing[0],
        )


def check_target_identifier(request: ApiRequest) -> TargetIdentifier:
    """NHSD-Target-Identifier: base64 JSON with ``system`` and ``value``."""
    raw = request.header("NHSD-Target-Identifier")
    if raw is None or not raw.strip():
        # The live proxy base64-decodes a null here and fails the same way.
        raise BarsError.of(
            400,
            "PROXY_BAD_REQUEST",
            "invalid",
            "The NHSD-Target-Identifier header is missing; it must be the base64 encoding of "
            '{"system": "https://fhir.nhs.uk/Id/dos-service-id", "value": "<service id>"}.',
            header="NHSD-Target-Identifier",
        )
    try:
        return decode_target_identifier(raw)
    except HeaderError as err:
        if err.stage == "base64":
            raise BarsError.of(
                400,
                "PROXY_BAD_REQUEST",
                "invalid",
                "The base64 decoding of the NHSD-Target-Identifier header failed.",
                header="NHSD-Target-Identifier",
            ) from None
        raise BarsError.of(
            400,
            "PROXY_BAD_REQUEST",
            "structure",
            f"Invalid schema for NHSD-Target-Identifier header: {err}",
            header="NHSD-Target-Identifier",
        ) from None


def check_catalogue(
    target: TargetIdentifier,
    catalogue: EndpointCatalogue,
    unknown_targets: Literal["reject", "accept"],
    organisation: str | None = None,
) -> None:
    """A well-formed target the Endpoint Catalogue does not hold: 404 PROXY_NOT_FOUND, as the live
    proxy answers (``examples/proxy-not-found.json``), unless the team opted out (``accept``)."""
    if unknown_targets == "accept" or catalogue.knows(target, organisation):
        return
    from tkw.fhir.canned import load_json

    error = BarsError.of(
        404, "PROXY_NOT_FOUND", "not-found", "The target endpoint does not exist in the Endpoint Catalogue."
    )
    error.fixed_body = load_json("proxy-not-found.json")  # the live proxy's static fault, byte for byte
    raise error
