"""Header rules: transaction ids, the base64-JSON NHSD headers, Accept, Content-Type (use-context: ucc).

Sources: BARS-API.md §3 (which header, required where, what shape) and §3.2 (receiver re-checks:
missing → ``required``, not a GUID → ``value``, a repeated X-Request-Id → 409 REC_CONFLICT
``duplicate``). The proxy's own hard checks stay in :mod:`tkw.proxy`; here everything is a finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tkw.encoded_headers import ISSUED_ODS_CODE, HeaderError, decode_base64_json
from tkw.routes import Operation
from tkw.validation import bars_data as bars
from tkw.validation.context import ValidationContext
from tkw.validation.findings import Finding
from tkw.validation.registry import RuleSet

RULES = RuleSet("headers")

UUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")


def http(header: str) -> str:
    """A header's location, spelt as FHIR's OperationOutcome.issue.location does."""
    return f"http.{header}"


# -- transaction headers ------------------------------------------------------------------------


@RULES.rule("header.transaction", "X-Request-Id and X-Correlation-Id are present, single and UUIDs", transaction=True)
def transaction_headers(ctx: ValidationContext) -> Iterator[Finding]:
    for header in ("X-Request-Id", "X-Correlation-Id"):
        check_id = f"header.{header.lower()}"
        values = ctx.request.header_values(header)
        value = values[0].strip() if values else ""
        if not value:
            yield RULES.failed(
                check_id,
                f"The {header} header is missing; every BaRS request must carry a fresh UUID in it "
                "(a receiver answers 400 REC_BAD_REQUEST).",
                http(header),
                issue_code="required",
            )
            continue
        if len(values) > 1:
            yield RULES.failed(
                f"{check_id}.single",
                f"The {header} header was sent {len(values)} times; send it once.",
                http(header),
                severity="warning",
            )
        if UUID_PATTERN.match(value):
            yield RULES.passed(check_id, f"{header} is present and a UUID.", http(header))
        else:
            yield RULES.failed(
                check_id,
                f"{header} must be a UUID such as 5d9a3c3e-4a59-4b8e-9a8e-0c6a0f8f1b2c; received {_quote(value)}.",
                http(header),
                issue_code="value",
            )


@RULES.rule(
    "header.x-request-id.duplicate", "X-Request-Id not already used by this organisation within 24 h", transaction=True
)
def duplicate_request_id(ctx: ValidationContext) -> Iterator[Finding]:
    request_id = (ctx.request.request_id or "").strip()
    if not request_id:
        return  # reported by header.transaction
    location = http("X-Request-Id")
    if ctx.input.seen_before:
        yield RULES.failed(
            "header.x-request-id.duplicate",
            f"X-Request-Id {_quote(request_id)} was already used by this organisation in the last 24 hours: "
            "a BaRS receiver treats the request as already processed and answers 409 REC_CONFLICT duplicate. "
            "Generate a new UUID for every request.",
            location,
            issue_code="duplicate",
            bars_code="REC_CONFLICT",
        )
    else:
        yield RULES.passed(
            "header.x-request-id.duplicate", "X-Request-Id was not used before by this organisation.", location
        )


# -- base64-JSON headers ------------------------------------------------------------------------


def _decode(header: str, raw: str, check_id: str) -> tuple[Any, Finding | None]:
    try:
        return decode_base64_json(raw, header), None
    except HeaderError as err:
        return None, RULES.failed(
            check_id,
            f"{err} It must be the standard base64 encoding of a UTF-8 JSON object.",
            http(header),
            issue_code="invalid",
        )


def _identifiers(data: dict[str, Any], header: str, check_id: str) -> tuple[list[dict[str, Any]], list[Finding]]:
    """The identifier array of a decoded header resource, with findings about its shape."""
    findings: list[Finding] = []
    raw = data.get("identifier")
    if isinstance(raw, dict):
        findings.append(
            RULES.failed(
                f"{check_id}.identifier-array",
                f"{header}: identifier is a single object; FHIR makes it an array of Identifier.",
                http(header),
                severity="warning",
                issue_code="structure",
            )
        )
        raw = [raw]
    if not isinstance(raw, list):
        return [], findings
    return [i for i in raw if isinstance(i, dict)], findings


def _has_system_and_value(identifier: dict[str, Any]) -> bool:
    return all(isinstance(identifier.get(k), str) and identifier[k].strip() for k in ("system", "value"))


def _resource_type_finding(data: Any, header: str, expected: str, check_id: str) -> Finding | None:
    if not isinstance(data, dict):
        return RULES.failed(
            check_id,
            f"{header} must decode to a JSON object (a FHIR {expected}); it decodes to {type(data).__name__}.",
            http(header),
            issue_code="structure",
        )
    if data.get("resourceType") != expected:
        return RULES.failed(
            check_id,
            f"{header} must decode to a FHIR {expected} (resourceType {expected!r}); "
            f"found resourceType {_quote(data.get('resourceType'))}.",
            http(header),
            issue_code="structure",
        )
    return None


@RULES.rule(
    "header.end-user-organisation",
    "NHSD-End-User-Organisation is an Organization with an ODS code identifier",
)
def end_user_organisation(ctx: ValidationContext) -> Iterator[Finding]:
    header, check_id = "NHSD-End-User-Organisation", "header.end-user-organisation"
    raw = ctx.request.header(header)
    if raw is None or not raw.strip():
        yield RULES.failed(
            check_id,
            f"The {header} header is missing; it is required on every request and identifies the calling "
            'organisation: base64 of {"resourceType": "Organization", "identifier": [{"system": '
            f'"{bars.ODS_SYSTEM}", "value": "<ODS code>"}}]}}. A receiver answers 401 REC_UNAUTHORIZED.',
            http(header),
            issue_code="required",
            bars_code="REC_UNAUTHORIZED",
        )
        return
    data, problem = _decode(header, raw, check_id)
    if problem is not None:
        yield problem
        return
    problem = _resource_type_finding(data, header, "Organization", check_id)
    if problem is not None:
        yield problem
        return
    identifiers, findings = _identifiers(data, header, check_id)
    yield from findings
    exact = [i for i in identifiers if i.get("system") == bars.ODS_SYSTEM and _has_system_and_value(i)]
    loose = [
        i
        for i in identifiers
        if isinstance(i.get("system"), str)
        and i["system"].lower() == bars.ODS_SYSTEM.lower()
        and _has_system_and_value(i)
    ]
    if not exact and loose:
        yield RULES.failed(
            f"{check_id}.system",
            f"{header}: the ODS identifier system is spelt {_quote(loose[0]['system'])}; "
            f"use exactly {bars.ODS_SYSTEM}.",
            http(header),
            severity="warning",
            issue_code="value",
        )
    chosen = next(iter(exact or loose), None)
    if chosen is None:
        yield RULES.failed(
            check_id,
            f"{header} has no identifier with system {bars.ODS_SYSTEM} and a value (the ODS code of the "
            "organisation making the request).",
            http(header),
            issue_code="required",
            bars_code="REC_UNAUTHORIZED",
        )
        return
    ods = str(chosen["value"]).strip()
    if not ISSUED_ODS_CODE.match(ods):
        yield RULES.failed(
            f"{check_id}.ods-code",
            f"{header}: {_quote(ods)} does not look like an ODS code (3 to 10 letters and digits).",
            http(header),
            severity="warning",
            issue_code="value",
        )
    yield RULES.passed(check_id, f"{header} names organisation {ods}.", http(header))


@RULES.rule("header.requesting-software", "NHSD-Requesting-Software is a Device with a stable identifier")
def requesting_software(ctx: ValidationContext) -> Iterator[Finding]:
    header, check_id = "NHSD-Requesting-Software", "header.requesting-software"
    raw = ctx.request.header(header)
    if raw is None or not raw.strip():
        yield RULES.failed(
            check_id,
            f"The {header} header is missing; it is required and identifies the sending product: base64 of "
            '{"resourceType": "Device", "identifier": [{"system": "<your system>", "value": "<product id>"}], '
            '"deviceName": ..., "version": ...}.',
            http(header),
            issue_code="required",
        )
        return
    data, problem = _decode(header, raw, check_id)
    if problem is not None:
        yield problem
        return
    problem = _resource_type_finding(data, header, "Device", check_id)
    if problem is not None:
        yield problem
        return
    identifiers, findings = _identifiers(data, header, check_id)
    yield from findings
    if not any(_has_system_and_value(i) for i in identifiers):
        yield RULES.failed(
            check_id,
            f"{header} has no identifier with both system and value; the identifier must be stable across "
            "every instance of the sending product.",
            http(header),
            issue_code="required",
        )
        return
    yield RULES.passed(check_id, f"{header} identifies the sending software.", http(header))
    if not data.get("deviceName") or not data.get("version"):
        missing = " and ".join(k for k in ("deviceName", "version") if not data.get(k))
        yield RULES.failed(
            f"{check_id}.name-version",
            f"{header} has no {missing}; send the product's name and version so a receiver can tell "
            "which release sent a request.",
            http(header),
            severity="info",
        )


@RULES.rule(
    "header.requesting-practitioner",
    "NHSD-Requesting-Practitioner, when sent, is a PractitionerRole with an identifier",
)
def requesting_practitioner(ctx: ValidationContext) -> Iterator[Finding]:
    header, check_id = "NHSD-Requesting-Practitioner", "header.requesting-practitioner"
    raw = ctx.request.header(header)
    if raw is None or not raw.strip():
        yield RULES.failed(
            check_id,
            f"{header} was not sent. It is optional, but must be sent whenever the request is made by or for "
            "a known practitioner.",
            http(header),
            severity="info",
        )
        return
    data, problem = _decode(header, raw, check_id)
    if problem is not None:
        yield problem
        return
    problem = _resource_type_finding(data, header, "PractitionerRole", check_id)
    if problem is not None:
        yield problem
        return
    identifiers, findings = _identifiers(data, header, check_id)
    yield from findings
    complete = [i for i in identifiers if _has_system_and_value(i)]
    if not complete:
        yield RULES.failed(
            check_id,
            f"{header} has no identifier with both system and value (for example system "
            f"{bars.SDS_ROLE_PROFILE_SYSTEM} and the SDS role profile id).",
            http(header),
            issue_code="required",
        )
        return
    if not any(i["system"] == bars.SDS_ROLE_PROFILE_SYSTEM for i in complete):
        yield RULES.failed(
            f"{check_id}.system",
            f"{header}: no identifier uses {bars.SDS_ROLE_PROFILE_SYSTEM} (the SDS role profile id); "
            f"found {', '.join(_quote(i['system']) for i in complete)}.",
            http(header),
            severity="warning",
            issue_code="value",
        )
    yield RULES.passed(check_id, f"{header} identifies the requesting practitioner role.", http(header))


@RULES.rule("header.target-identifier", "NHSD-Target-Identifier decodes to a DoS service id system and value")
def target_identifier(ctx: ValidationContext) -> Iterator[Finding]:
    header, check_id = "NHSD-Target-Identifier", "header.target-identifier"
    raw = ctx.request.header(header)
    if raw is None or not raw.strip():
        if ctx.operation is Operation.METADATA:
            yield RULES.passed(
                check_id,
                f"No {header}: the BaRS proxy answers GET /metadata with its own CapabilityStatement.",
                http(header),
            )
        else:
            yield RULES.failed(
                check_id,
                f"The {header} header is missing; it names the service the request is for, as base64 of "
                f'{{"system": "{bars.DOS_SYSTEM}", "value": "<service id>"}}.',
                http(header),
                issue_code="required",
                bars_code="PROXY_BAD_REQUEST",
            )
        return
    target = ctx.target
    if target is None:
        yield RULES.failed(
            check_id,
            f"{header} could not be decoded: it must be base64 of a JSON object with non-empty string "
            f'"system" and "value", e.g. {{"system": "{bars.DOS_SYSTEM}", "value": "2000011147"}}.',
            http(header),
            issue_code="structure",
            bars_code="PROXY_BAD_REQUEST",
        )
        return
    if target.system == bars.DOS_SYSTEM:
        if not target.value.isdigit():
            yield RULES.failed(
                f"{check_id}.value",
                f"{header}: a DoS service id is numeric; received {_quote(target.value)}.",
                http(header),
                severity="warning",
                issue_code="value",
            )
    elif target.system == bars.TEST_TARGET_SYSTEM:
        yield RULES.failed(
            f"{check_id}.system",
            f"{header} uses the proxy's internal test system 'tests'; real services use {bars.DOS_SYSTEM}.",
            http(header),
            severity="info",
        )
    else:
        yield RULES.failed(
            f"{check_id}.system",
            f"{header}: system {_quote(target.system)} is not {bars.DOS_SYSTEM}"
            + (" (note https and the capital I)" if target.system.lower().endswith("/id/dos-service-id") else "")
            + ".",
            http(header),
            severity="warning",
            issue_code="value",
        )
    yield RULES.passed(check_id, f"{header} decodes to {target.token}.", http(header))


# -- media types --------------------------------------------------------------------------------


def _media_ranges(value: str) -> list[tuple[str, dict[str, str | None]]]:
    """``a/b; k=v, c/d`` → [("a/b", {"k": "v"}), ("c/d", {})]; a parameter without ``=`` maps to None."""
    ranges = []
    for part in value.split(","):
        pieces = [p.strip() for p in part.split(";")]
        if not pieces[0]:
            continue
        params: dict[str, str | None] = {}
        for piece in pieces[1:]:
            if not piece:
                continue
            name, eq, val = piece.partition("=")
            params[name.strip().lower()] = val.strip().strip("'\"") if eq else None
        ranges.append((pieces[0].lower(), params))
    return ranges


@RULES.rule("header.accept", "Accept asks for application/fhir+json with a BaRS API version")
def accept(ctx: ValidationContext) -> Iterator[Finding]:
    header, check_id = "Accept", "header.accept"
    raw = ctx.request.header(header)
    example = "application/fhir+json; version=1.0.0"
    if raw is None or not raw.strip():
        yield RULES.failed(
            check_id,
            f"The Accept header is missing; BaRS requires it with the API version, e.g. {_quote(example)}.",
            http(header),
            issue_code="required",
            bars_code="SEND_NOT_ACCEPTABLE",
        )
        return
    ranges = _media_ranges(raw)
    fhir = [params for media, params in ranges if media == "application/fhir+json"]
    if not fhir:
        loose = [media for media, _ in ranges if media in ("application/json", "*/*", "application/*")]
        yield RULES.failed(
            check_id,
            f"Accept {_quote(raw)} does not ask for application/fhir+json, the media type BaRS answers with; "
            f"send {_quote(example)}.",
            http(header),
            severity="warning" if loose else "error",
            issue_code="not-supported",
            bars_code="SEND_NOT_ACCEPTABLE",
        )
        return
    versions = [params["version"] for params in fhir if "version" in params]
    if any(v is None for v in versions):
        yield RULES.failed(
            f"{check_id}.version",
            f"Accept {_quote(raw)} has a version parameter without '='; write version=1.0.0 "
            "(the BaRS proxy cannot parse it otherwise).",
            http(header),
            issue_code="value",
            bars_code="SEND_NOT_ACCEPTABLE",
        )
        return
    if not versions:
        yield RULES.failed(
            f"{check_id}.version",
            f"Accept {_quote(raw)} has no version parameter; BaRS requires one (the proxy assumes 1.0.0). "
            f"Send {_quote(example)}.",
            http(header),
            severity="warning",
            issue_code="required",
        )
        yield RULES.passed(check_id, "Accept asks for application/fhir+json.", http(header))
        return
    malformed = [v for v in versions if v is not None and not _SEMVER.match(v)]
    if malformed:
        yield RULES.failed(
            f"{check_id}.version",
            f"Accept version {_quote(malformed[0])} is not a version number like 1.0.0.",
            http(header),
            issue_code="value",
            bars_code="SEND_NOT_ACCEPTABLE",
        )
        return
    # The proxy takes the highest version offered.
    chosen = max((v for v in versions if v is not None), key=lambda v: tuple(int(x) for x in v.split(".")))
    if chosen not in bars.API_VERSIONS:
        yield RULES.failed(
            f"{check_id}.version",
            f"Accept version {chosen} is not a published BaRS API version ({', '.join(bars.API_VERSIONS)}; "
            "1.0.0 is the production version).",
            http(header),
            severity="warning",
            issue_code="not-supported",
        )
    yield RULES.passed(check_id, f"Accept asks for application/fhir+json, API version {chosen}.", http(header))


@RULES.rule(
    "header.content-type",
    "Content-Type of a $process-message body is application/fhir+json",
    operations={Operation.PROCESS_MESSAGE},
)
def content_type(ctx: ValidationContext) -> Iterator[Finding]:
    header, check_id = "Content-Type", "header.content-type"
    raw = ctx.request.header(header)
    if raw is None or not raw.strip():
        yield RULES.failed(
            check_id,
            "The Content-Type header is missing; a $process-message body is sent as application/fhir+json.",
            http(header),
            issue_code="required",
        )
        return
    media = raw.split(";", 1)[0].strip().lower()
    if media == "application/fhir+json":
        yield RULES.passed(check_id, "Content-Type is application/fhir+json.", http(header))
    elif media == "application/json":
        yield RULES.failed(
            check_id,
            "Content-Type is application/json; BaRS specifies application/fhir+json.",
            http(header),
            severity="warning",
            issue_code="value",
        )
    else:
        yield RULES.failed(
            check_id,
            f"Content-Type {_quote(raw)} is not application/fhir+json; the body cannot be read as a FHIR JSON message.",
            http(header),
            issue_code="not-supported",
            bars_code="REC_UNSUPPORTED_MEDIA_TYPE",
        )


# use-context is checked with the message and its Application: tkw.validation.ucc_rules.


def _quote(value: object, limit: int = 80) -> str:
    """A value for a message: repr-quoted and cut short (headers can be long or hostile)."""
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "…")
