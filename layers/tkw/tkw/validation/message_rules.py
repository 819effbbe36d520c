"""BaRS message rules for a $process-message Bundle (BARS-API.md §6, §8, §12).

These are the business checks a BaRS receiver makes beyond FHIR structure: the Bundle and its
MessageHeader, the BaRS code systems, the MessageDefinition the message claims and its
cardinalities, references inside the Bundle, the destination, and the NHS number check digit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tkw.routes import Operation
from tkw.validation import bars_data as bars
from tkw.validation.context import Entry, MessageBundle, ValidationContext
from tkw.validation.findings import Finding
from tkw.validation.nhs_number import check_digit, is_ten_digits
from tkw.validation.registry import RuleSet

RULES = RuleSet("message")
_ONLY = {Operation.PROCESS_MESSAGE}

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_URN_UUID = re.compile(rf"^urn:uuid:{_UUID}$")
_RELATIVE = re.compile(r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}(/_history/[A-Za-z0-9\-.]{1,64})?$")
_ABSOLUTE = re.compile(r"^https?://\S+/[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}(/_history/[A-Za-z0-9\-.]{1,64})?$")
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?$")

HEADER_PATH = "Bundle.entry[0].resource(MessageHeader)"


def _bundle(ctx: ValidationContext) -> MessageBundle | None:
    return ctx.bundle


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _shown(reference: Any) -> str:
    """A reference for a message. Patient ids are sometimes NHS numbers (the official booking
    response uses Patient/<NHS number>), and messages must never carry patient data."""
    if isinstance(reference, str) and "Patient/" in reference:
        return "(a Patient reference)"
    return repr(reference)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# -- the Bundle ---------------------------------------------------------------------------------


@RULES.rule("message.bundle", "Bundle.type is message, with an id, meta.versionId and the BaRS profile", _ONLY)
def bundle_basics(ctx: ValidationContext) -> Iterator[Finding]:
    bundle = _bundle(ctx)
    if bundle is None:
        return
    data = bundle.data
    if data.get("type") == "message":
        yield RULES.passed("message.bundle.type", "Bundle.type is message.", "Bundle.type")
    else:
        yield RULES.failed(
            "message.bundle.type",
            f"Bundle.type must be 'message' for $process-message; found {data.get('type')!r}.",
            "Bundle.type",
            issue_code="invariant" if "type" in data else "required",
        )
    if isinstance(data.get("id"), str) and data["id"]:
        yield RULES.passed("message.bundle.id", "Bundle.id is present.", "Bundle.id")
    else:
        yield RULES.failed(
            "message.bundle.id",
            "Bundle.id is missing; a response to this message refers to it in MessageHeader.response.identifier.",
            "Bundle.id",
            severity="warning",
            issue_code="required",
        )
    meta = _dict(data.get("meta"))
    version = meta.get("versionId")
    match = _VERSION.match(version) if isinstance(version, str) else None
    if not isinstance(version, str) or not version.strip():
        yield RULES.failed(
            "message.bundle.version",
            "Bundle.meta.versionId is missing; it carries the BaRS payload version (e.g. 1.0.0) and a receiver "
            "answers 400 REC_BAD_REQUEST invariant without it.",
            "Bundle.meta.versionId",
            issue_code="invariant",
        )
    elif match is None:
        yield RULES.failed(
            "message.bundle.version",
            f"Bundle.meta.versionId {version!r} is not a BaRS payload version like 1.0.0 or 1.1.0-alpha.",
            "Bundle.meta.versionId",
            issue_code="not-supported",
            bars_code="REC_UNPROCESSABLE_ENTITY",
        )
    elif int(match.group(1)) != bars.SUPPORTED_PAYLOAD_MAJOR:
        yield RULES.failed(
            "message.bundle.version",
            f"Bundle.meta.versionId {version} is not supported: BaRS payloads are major version "
            f"{bars.SUPPORTED_PAYLOAD_MAJOR} (a receiver answers 422 REC_UNPROCESSABLE_ENTITY not-supported).",
            "Bundle.meta.versionId",
            issue_code="not-supported",
            bars_code="REC_UNPROCESSABLE_ENTITY",
        )
    else:
        yield RULES.passed("message.bundle.version", f"Bundle.meta.versionId is {version}.", "Bundle.meta.versionId")
    if bars.BUNDLE_PROFILE in _strings(meta.get("profile")):
        yield RULES.passed(
            "message.bundle.profile", "Bundle.meta.profile claims BARSBundleMessage.", "Bundle.meta.profile"
        )
    else:
        yield RULES.failed(
            "message.bundle.profile",
            f"Bundle.meta.profile does not include {bars.BUNDLE_PROFILE}.",
            "Bundle.meta.profile",
            severity="warning",
            issue_code="value",
        )


@RULES.rule("message.entry.full-url", "Every entry has a unique fullUrl urn:uuid:<uuid>", _ONLY)
def full_urls(ctx: ValidationContext) -> Iterator[Finding]:
    bundle = _bundle(ctx)
    if bundle is None or not bundle.raw_entries:
        return
    seen: dict[str, int] = {}
    problems = 0
    for index, item in enumerate(bundle.raw_entries):
        full_url = item.get("fullUrl") if isinstance(item, dict) else None
        location = f"Bundle.entry[{index}].fullUrl"
        if not isinstance(full_url, str) or not full_url:
            problems += 1
            yield RULES.failed(
                "message.entry.full-url",
                f"{location} is missing; every entry of a BaRS message has fullUrl urn:uuid:<uuid>.",
                location,
                issue_code="required",
            )
            continue
        if not _URN_UUID.match(full_url):
            problems += 1
            yield RULES.failed(
                "message.entry.full-url",
                f"{location} is {full_url!r}; BaRS messages use urn:uuid:<uuid>.",
                location,
                issue_code="value",
            )
        if full_url in seen:
            problems += 1
            yield RULES.failed(
                "message.entry.full-url",
                f"{location} repeats the fullUrl of Bundle.entry[{seen[full_url]}]; references to it are ambiguous.",
                location,
                issue_code="invariant",
            )
        seen.setdefault(full_url, index)
    if not problems:
        yield RULES.passed(
            "message.entry.full-url",
            f"All {len(bundle.raw_entries)} entries have a unique urn:uuid fullUrl.",
            "Bundle.entry",
        )


# -- the MessageHeader --------------------------------------------------------------------------


@RULES.rule("message.header.first", "The first entry is the one MessageHeader", _ONLY)
def header_first(ctx: ValidationContext) -> Iterator[Finding]:
    bundle = _bundle(ctx)
    if bundle is None:
        return
    headers = bundle.of_type("MessageHeader")
    if bundle.header is None:
        where = f" (it is Bundle.entry[{headers[0].index}])" if headers else ""
        yield RULES.failed(
            "message.header.first",
            f"The first entry of a message Bundle must be its MessageHeader{where}.",
            "Bundle.entry[0]",
            issue_code="required" if not headers else "invariant",
        )
    elif len(headers) > 1:
        yield RULES.failed(
            "message.header.first",
            f"The Bundle has {len(headers)} MessageHeaders (entries "
            f"{', '.join(str(h.index) for h in headers)}); a message has exactly one.",
            headers[1].path,
            issue_code="invariant",
        )
    else:
        yield RULES.passed("message.header.first", "The first entry is the MessageHeader.", HEADER_PATH)


@RULES.rule("message.header.event", "MessageHeader.eventCoding is a message-events-bars code", _ONLY)
def header_event(ctx: ValidationContext) -> Iterator[Finding]:
    header = ctx.header
    if header is None:
        return
    location = f"{HEADER_PATH}.eventCoding"
    coding = header.get("eventCoding")
    if not isinstance(coding, dict) or not coding.get("code"):
        yield RULES.failed(
            "message.header.event",
            f"{location} is missing; it must be a code of {bars.MESSAGE_EVENTS_SYSTEM}.",
            location,
            issue_code="required",
        )
        return
    system, code = coding.get("system"), coding.get("code")
    if system != bars.MESSAGE_EVENTS_SYSTEM:
        yield RULES.failed(
            "message.header.event",
            f"{location}.system is {system!r}; BaRS events use {bars.MESSAGE_EVENTS_SYSTEM}.",
            f"{location}.system",
            issue_code="code-invalid",
        )
    elif code not in bars.EVENTS:
        yield RULES.failed(
            "message.header.event",
            f"{location}.code {code!r} is not a BaRS event; expected one of {', '.join(sorted(bars.EVENTS))}.",
            f"{location}.code",
            issue_code="code-invalid",
        )
    else:
        yield RULES.passed("message.header.event", f"The event is {code}.", location)
        expected = bars.MESSAGE_HEADER_PROFILE_BASE + str(code)
        meta = _dict(header.get("meta"))
        if code != "booking-response" and expected not in _strings(meta.get("profile")):
            yield RULES.failed(
                "message.header.profile",
                f"{HEADER_PATH}.meta.profile does not include {expected}, the MessageHeader profile of a {code}.",
                f"{HEADER_PATH}.meta.profile",
                severity="warning",
                issue_code="value",
            )


@RULES.rule("message.header.reason", "MessageHeader.reason is a message-reason-bars code", _ONLY)
def header_reason(ctx: ValidationContext) -> Iterator[Finding]:
    header = ctx.header
    if header is None:
        return
    location = f"{HEADER_PATH}.reason"
    reason = header.get("reason")
    codings = reason.get("coding") if isinstance(reason, dict) else None
    codings = [c for c in codings if isinstance(c, dict)] if isinstance(codings, list) else []
    if not codings:
        yield RULES.failed(
            "message.header.reason",
            f"{location} is missing; it must be a code (new, update or delete) of {bars.MESSAGE_REASON_SYSTEM}.",
            location,
            issue_code="required",
        )
        return
    bars_codings = [c for c in codings if c.get("system") == bars.MESSAGE_REASON_SYSTEM]
    if not bars_codings:
        yield RULES.failed(
            "message.header.reason",
            f"{location}.coding has no coding from {bars.MESSAGE_REASON_SYSTEM} "
            f"(found system {codings[0].get('system')!r}).",
            f"{location}.coding[0].system",
            issue_code="code-invalid",
        )
    elif bars_codings[0].get("code") not in bars.REASONS:
        yield RULES.failed(
            "message.header.reason",
            f"{location} code {bars_codings[0].get('code')!r} is not a BaRS reason; expected new, update or delete.",
            f"{location}.coding",
            issue_code="code-invalid",
        )
    else:
        yield RULES.passed("message.header.reason", f"The reason is {bars_codings[0]['code']}.", location)


def _canonical(url: str) -> str:
    return url.split("|", 1)[0].rstrip("/")


@RULES.rule("message.header.definition", "MessageHeader.definition names a BaRS MessageDefinition for the event", _ONLY)
def header_definition(ctx: ValidationContext) -> Iterator[Finding]:
    header = ctx.header
    if header is None:
        return
    location = f"{HEADER_PATH}.definition"
    definition = header.get("definition")
    if not isinstance(definition, str) or not definition.strip():
        deleting = ctx.reason_code == "delete"
        yield RULES.failed(
            "message.header.definition",
            f"{location} is missing; it must be the canonical URL of the MessageDefinition the payload follows, "
            f"e.g. {bars.MESSAGE_DEFINITION_BASE}bars-message-booking-request."
            + (" (The IG's delete example omits it, so this is only a warning for reason delete.)" if deleting else ""),
            location,
            severity="warning" if deleting else "error",
            issue_code="required",
        )
        return
    rule = bars.MESSAGE_DEFINITIONS.get(_canonical(definition))
    if rule is None:
        yield RULES.failed(
            "message.header.definition",
            f"{location} {definition!r} is not a BaRS MessageDefinition; expected one of "
            f"{', '.join(d.name for d in bars.MESSAGE_DEFINITIONS.values())} under {bars.MESSAGE_DEFINITION_BASE}.",
            location,
            issue_code="not-supported",
        )
        return
    if ctx.event_code in bars.EVENTS and ctx.event_code != rule.event:
        yield RULES.failed(
            "message.header.definition",
            f"{location} is {rule.name}, a {rule.event} definition, but the event is {ctx.event_code}.",
            location,
            issue_code="invariant",
        )
        return
    yield RULES.passed("message.header.definition", f"The message follows {rule.name}.", location)


@RULES.rule("message.header.focus", "MessageHeader.focus resolves to the root resource for the event", _ONLY)
def header_focus(ctx: ValidationContext) -> Iterator[Finding]:
    header, bundle = ctx.header, _bundle(ctx)
    if header is None or bundle is None:
        return
    location = f"{HEADER_PATH}.focus"
    focus = header.get("focus")
    references = [f for f in focus if isinstance(f, dict)] if isinstance(focus, list) else []
    if not references:
        yield RULES.failed(
            "message.header.focus",
            f"{location} is missing; it must reference the message's root resource (Appointment for a booking, "
            "ServiceRequest for a referral or validation).",
            location,
            issue_code="required",
        )
        return
    expected = bars.FOCUS_TYPES.get(ctx.event_code or "")
    problems = 0
    for index, item in enumerate(references):
        where = f"{location}[{index}].reference"
        reference = item.get("reference")
        target = bundle.resolve(reference) if isinstance(reference, str) else None
        if target is None:
            problems += 1
            yield RULES.failed(
                "message.header.focus",
                f"{where} {_shown(reference)} does not resolve to any entry of the Bundle (match an entry's fullUrl).",
                where,
                issue_code="not-found",
            )
        elif expected is not None and target.resource_type not in expected:
            problems += 1
            yield RULES.failed(
                "message.header.focus",
                f"{where} points at a {target.resource_type} (Bundle.entry[{target.index}]); a {ctx.event_code} "
                f"focuses on {' or '.join(sorted(expected))}.",
                where,
                issue_code="invariant",
            )
    if not problems:
        yield RULES.passed("message.header.focus", "MessageHeader.focus resolves inside the Bundle.", location)


def _split_token(token: str) -> tuple[str, str]:
    system, _, value = token.rpartition("|")
    return system.strip(), value.strip()


def _same_system(a: str, b: str) -> bool:
    return a.lower().replace("http://", "https://", 1) == b.lower().replace("http://", "https://", 1)


@RULES.rule(
    "message.header.destination",
    "MessageHeader.destination.endpoint is the service named by NHSD-Target-Identifier",
    _ONLY,
)
def header_destination(ctx: ValidationContext) -> Iterator[Finding]:
    header = ctx.header
    if header is None:
        return
    location = f"{HEADER_PATH}.destination"
    destinations = header.get("destination")
    endpoints = [
        (i, d.get("endpoint"))
        for i, d in enumerate(destinations if isinstance(destinations, list) else [])
        if isinstance(d, dict)
    ]
    if not endpoints:
        yield RULES.failed(
            "message.header.destination",
            f"{location} is missing; it must carry the receiving service as endpoint <system>|<service id>.",
            location,
            issue_code="required",
        )
        return
    target = ctx.target
    if target is None:
        return  # header.target-identifier reports the missing or broken header
    exact = partial = None
    for index, endpoint in endpoints:
        if not isinstance(endpoint, str):
            continue
        system, value = _split_token(endpoint)
        if value == target.value and system == target.system:
            exact = index
        elif value == target.value and _same_system(system, target.system):
            partial = partial if partial is not None else index
    if exact is not None:
        yield RULES.passed(
            "message.header.destination",
            f"destination[{exact}].endpoint is the target service {target.token}.",
            location,
        )
    elif partial is not None:
        yield RULES.failed(
            "message.header.destination",
            f"{location}[{partial}].endpoint names the target service but spells the system differently from "
            f"NHSD-Target-Identifier; use exactly {target.token}.",
            f"{location}[{partial}].endpoint",
            severity="warning",
            issue_code="value",
        )
    else:
        found = ", ".join(repr(e) for _, e in endpoints)
        yield RULES.failed(
            "message.header.destination",
            f"{location}.endpoint ({found}) is not the service the request was sent to: NHSD-Target-Identifier "
            f"is {target.token}, and a receiver rejects a message addressed to another service.",
            f"{location}[0].endpoint",
            issue_code="invariant",
        )


@RULES.rule(
    "message.header.parties",
    "MessageHeader.sender and destination.receiver are Organizations; source.endpoint set",
    _ONLY,
)
def header_parties(ctx: ValidationContext) -> Iterator[Finding]:
    header, bundle = ctx.header, _bundle(ctx)
    if header is None or bundle is None:
        return
    problems = 0
    destinations = _list(header.get("destination"))
    parties: list[tuple[str, Any]] = [(f"{HEADER_PATH}.sender", header.get("sender"))]
    parties += [
        (f"{HEADER_PATH}.destination[{i}].receiver", d.get("receiver"))
        for i, d in enumerate(destinations)
        if isinstance(d, dict)
    ]
    for location, party in parties:
        reference = party.get("reference") if isinstance(party, dict) else None
        if not isinstance(reference, str):
            problems += 1
            yield RULES.failed(
                "message.header.parties",
                f"{location} is missing; it must reference the {'sending' if 'sender' in location else 'receiving'} "
                "Organization entry.",
                location,
                severity="warning",
                issue_code="required",
            )
            continue
        entry = bundle.resolve(reference)
        if entry is not None and entry.resource_type != "Organization":
            problems += 1
            yield RULES.failed(
                "message.header.parties",
                f"{location} points at a {entry.resource_type} (Bundle.entry[{entry.index}]); "
                "it must be an Organization.",
                f"{location}.reference",
                issue_code="invariant",
            )
    source = header.get("source")
    if not isinstance(source, dict) or not isinstance(source.get("endpoint"), str) or "|" not in source["endpoint"]:
        problems += 1
        yield RULES.failed(
            "message.header.parties",
            f"{HEADER_PATH}.source.endpoint must be the sender's own service as <system>|<service id>: a receiver "
            "uses it as the NHSD-Target-Identifier of asynchronous replies.",
            f"{HEADER_PATH}.source.endpoint",
            severity="warning",
            issue_code="required",
        )
    if not problems:
        yield RULES.passed("message.header.parties", "Sender, receiver and source are set.", HEADER_PATH)


@RULES.rule("message.header.response", "Responses carry MessageHeader.response; requests do not", _ONLY)
def header_response(ctx: ValidationContext) -> Iterator[Finding]:
    header = ctx.header
    if header is None or ctx.event_code not in bars.EVENTS:
        return
    location = f"{HEADER_PATH}.response"
    response = header.get("response")
    if ctx.event_code == "servicerequest-response":
        answered = _dict(response)
        identifier = answered.get("identifier")
        if not isinstance(identifier, str) or not identifier.strip() or not answered.get("code"):
            yield RULES.failed(
                "message.header.response",
                f"{location} must carry identifier (the Bundle.id of the request being answered) and code ok "
                "in a servicerequest-response.",
                location,
                issue_code="invariant",
            )
        else:
            yield RULES.passed(
                "message.header.response", "MessageHeader.response names the request answered.", location
            )
    elif response is not None:
        yield RULES.failed(
            "message.header.response",
            f"{location} is set on a {ctx.event_code}; only responses carry it.",
            location,
            severity="warning",
            issue_code="invariant",
        )


# -- the payload --------------------------------------------------------------------------------


def _references(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every ``reference`` string under ``node``, with its element path."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield f"{path}.reference", value
            elif isinstance(value, dict | list):
                yield from _references(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, dict | list):
                yield from _references(value, f"{path}[{index}]")


@RULES.rule("message.references", "Every reference in the Bundle resolves to one of its entries", _ONLY)
def references_resolve(ctx: ValidationContext) -> Iterator[Finding]:
    bundle = _bundle(ctx)
    if bundle is None:
        return
    total = problems = 0
    focus_prefix = f"{HEADER_PATH}.focus"  # reported by message.header.focus
    for entry in bundle.entries:
        for location, reference in _references(entry.resource, entry.path):
            if location.startswith(focus_prefix) or reference.startswith("#"):
                continue
            total += 1
            if bundle.resolve(reference) is not None:
                continue
            problems += 1
            if reference.startswith("urn:"):
                yield RULES.failed(
                    "message.references",
                    f"{location} {_shown(reference)} matches no entry's fullUrl in the Bundle.",
                    location,
                    issue_code="not-found",
                )
            elif _RELATIVE.match(reference) or _ABSOLUTE.match(reference):
                yield RULES.failed(
                    "message.references",
                    f"{location} {_shown(reference)} is not in the Bundle; the receiver must already hold it "
                    "or fetch it.",
                    location,
                    severity="warning",
                    issue_code="not-found",
                )
            else:
                yield RULES.failed(
                    "message.references",
                    f"{location} {_shown(reference)} is not a valid reference: use the urn:uuid fullUrl of an entry "
                    "(or Type/id).",
                    location,
                    issue_code="value",
                )
    if not problems:
        yield RULES.passed("message.references", f"All {total} references resolve inside the Bundle.", "Bundle.entry")


@RULES.rule("message.cardinality", "The Bundle holds what its MessageDefinition requires (min..max per type)", _ONLY)
def cardinality(ctx: ValidationContext) -> Iterator[Finding]:
    header, bundle = ctx.header, _bundle(ctx)
    if header is None or bundle is None or not isinstance(header.get("definition"), str):
        return
    rule = bars.MESSAGE_DEFINITIONS.get(_canonical(header["definition"]))
    if rule is None:
        return
    problems = 0
    for resource_type, allowed in rule.focus.items():
        count = bundle.counts.get(resource_type, 0)
        if not allowed.allows(count):
            problems += 1
            yield RULES.failed(
                "message.cardinality",
                f"{rule.name} requires {resource_type} {allowed}; the Bundle has {count}.",
                "Bundle.entry",
                issue_code="required" if count < allowed.min else "invariant",
            )
    for resource_type, count in sorted(bundle.counts.items()):
        if resource_type != "MessageHeader" and resource_type not in rule.focus:
            problems += 1
            yield RULES.failed(
                "message.cardinality",
                f"{rule.name} does not list {resource_type}; the Bundle has {count} and a receiver may ignore "
                "or reject them.",
                "Bundle.entry",
                severity="warning",
                issue_code="invariant",
            )
    if not problems:
        yield RULES.passed("message.cardinality", f"The Bundle holds what {rule.name} requires.", "Bundle.entry")


def _focus_entry(ctx: ValidationContext) -> Entry | None:
    header, bundle = ctx.header, ctx.bundle
    focus = header.get("focus") if header else None
    first = focus[0] if isinstance(focus, list) and focus and isinstance(focus[0], dict) else None
    reference = first.get("reference") if first else None
    return bundle.resolve(reference) if bundle is not None and isinstance(reference, str) else None


@RULES.rule("message.workflow", "The focus status suits the event and reason (the IG's decision table)", _ONLY)
def workflow(ctx: ValidationContext) -> Iterator[Finding]:
    event, reason = ctx.event_code, ctx.reason_code
    if ctx.header is None or event is None:
        return
    if event == "booking-response":
        yield RULES.failed(
            "message.workflow",
            "A booking-response message is not accepted by a BaRS receiver (400 REC_BAD_REQUEST invariant).",
            f"{HEADER_PATH}.eventCoding",
            issue_code="invariant",
        )
        return
    statuses = bars.WORKFLOW.get((event, reason or ""))
    focus = _focus_entry(ctx)
    if statuses is None or focus is None:
        return
    status = focus.resource.get("status")
    location = f"{focus.path}.status"
    if status in statuses.expected:
        yield RULES.passed(
            "message.workflow", f"A {event} with reason {reason} and {focus.resource_type} {status}.", location
        )
    elif status in statuses.tolerated:
        yield RULES.failed(
            "message.workflow",
            f"{focus.resource_type}.status {status} with reason {reason}: {statuses.note}.",
            location,
            severity="warning",
            issue_code="invariant",
        )
    else:
        allowed = ", ".join(sorted(statuses.expected | statuses.tolerated))
        yield RULES.failed(
            "message.workflow",
            f"A {event} with reason {reason} needs {focus.resource_type}.status {allowed}; found {status!r} "
            "(a receiver answers 400 REC_BAD_REQUEST invariant for an unknown combination).",
            location,
            issue_code="invariant",
        )


@RULES.rule(
    "message.patient.nhs-number", "Patient NHS numbers are ten digits with a valid modulus-11 check digit", _ONLY
)
def nhs_numbers(ctx: ValidationContext) -> Iterator[Finding]:
    bundle = _bundle(ctx)
    if bundle is None:
        return
    # Messages name the element, never the number: reports and logs must not carry patient data.
    for entry in bundle.of_type("Patient"):
        identifiers = entry.resource.get("identifier")
        for index, identifier in enumerate(identifiers if isinstance(identifiers, list) else []):
            if not isinstance(identifier, dict) or identifier.get("system") != bars.NHS_NUMBER_SYSTEM:
                continue
            location = f"{entry.path}.identifier[{index}].value"
            value = identifier.get("value")
            if not isinstance(value, str) or not is_ten_digits(value):
                yield RULES.failed(
                    "message.patient.nhs-number",
                    f"{location} is not an NHS number: it must be exactly ten digits with no spaces.",
                    location,
                    issue_code="value",
                )
            elif not check_digit(value).valid:
                yield RULES.failed(
                    "message.patient.nhs-number.check-digit",
                    f"{location} fails the NHS number modulus-11 check (its last digit does not match the first "
                    "nine). The official BaRS examples' numbers fail it too, so this is a warning.",
                    location,
                    severity="warning",
                    issue_code="value",
                )
            else:
                yield RULES.passed(
                    "message.patient.nhs-number", "The NHS number is ten digits with a valid check digit.", location
                )
