"""Use-case categories (UCC): the ``use-context`` header, the payload's use case and the
MessageDefinition ``context`` use case, each against the message and the target's Application.

TKW checks UCC since 1.0.19 (NBRS-3802 existence, NBRS-3806/3807 the ``use-context`` header,
NBRS-3801 UCC in MessageDefinition searches). The codes are those of
``https://fhir.nhs.uk/CodeSystem/usecases-categories-bars`` (case-sensitive: lower case), kept in
``tkw/applications/applications.yaml`` with the Application each belongs to.

- ``header.use-context``: sent on ``$process-message`` as ``usecase|category|event|reason``; each
  part agrees with the message (MessageHeader event and reason, ServiceRequest category or
  ``booking``, the payload's use case) and the use case is the judged Application's.
- ``ucc.payload``: the ServiceRequest (``category``) or Appointment (``serviceCategory``) carries
  exactly one known, current use case of the judged Application.
- ``ucc.context``: a MessageDefinition search's use case is the target service's Application's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tkw.applications import get_catalogue
from tkw.routes import Operation
from tkw.validation import bars_data as bars
from tkw.validation.application_rules import context_use_case
from tkw.validation.context import Entry, ValidationContext
from tkw.validation.findings import Finding, Severity
from tkw.validation.header_rules import _quote, http
from tkw.validation.registry import RuleSet

HEADER_RULES = RuleSet("headers")
RULES = RuleSet("application")
_MESSAGE = {Operation.PROCESS_MESSAGE}
_EXAMPLE = "a1t1|referral|servicerequest-request|new"


def _codes_in(resource: dict[str, Any], element: str, system: str) -> set[str]:
    """Codes of ``system`` in a CodeableConcept array element (e.g. ServiceRequest.category)."""
    found: set[str] = set()
    concepts = resource.get(element)
    for concept in concepts if isinstance(concepts, list) else ():
        codings = concept.get("coding") if isinstance(concept, dict) else None
        for coding in codings if isinstance(codings, list) else ():
            if isinstance(coding, dict) and coding.get("system") == system and isinstance(coding.get("code"), str):
                found.add(coding["code"])
    return found


def _spelling(code: str) -> str:
    """Why a code that is not in the CodeSystem fails: a case slip or an unknown code."""
    if code.lower() in bars.USE_CASES:
        return f"the CodeSystem is case-sensitive: write {code.lower()!r}"
    return f"it is not a code of {bars.USE_CASES_SYSTEM}"


@HEADER_RULES.rule(
    "header.use-context",
    "use-context is sent and agrees with the message and its Application (use case|category|event|reason)",
    _MESSAGE,
)
def use_context(ctx: ValidationContext) -> Iterator[Finding]:
    header, check_id = "use-context", "header.use-context"
    raw = (ctx.request.header(header) or "").strip()
    if not raw:
        yield HEADER_RULES.failed(
            check_id,
            f"The use-context header is missing; $process-message requires it, as "
            f"<use case>|<category>|<event>|<reason>, e.g. {_quote(_EXAMPLE)} (TKW 1.0.19: omitting the UCC "
            "is an error test).",
            http(header),
            issue_code="required",
        )
        return
    parts = [p.strip() for p in raw.split("|")]
    if len(parts) != 4 or not all(parts):
        yield HEADER_RULES.failed(
            f"{check_id}.format",
            f"use-context {_quote(raw)} is not four non-empty parts <use case>|<category>|<event>|<reason> "
            f"(e.g. {_quote(_EXAMPLE)}).",
            http(header),
            severity="warning",
            issue_code="value",
        )
        return
    use_case, category, event, reason = parts
    problems = 0
    if ctx.event_code is not None and event != ctx.event_code:
        problems += 1
        yield HEADER_RULES.failed(
            f"{check_id}.event",
            f"use-context event {_quote(event)} does not match MessageHeader.eventCoding.code "
            f"{_quote(ctx.event_code)}.",
            http(header),
            issue_code="invariant",
        )
    if ctx.reason_code is not None and reason != ctx.reason_code:
        problems += 1
        yield HEADER_RULES.failed(
            f"{check_id}.reason",
            f"use-context reason {_quote(reason)} does not match MessageHeader.reason {_quote(ctx.reason_code)}.",
            http(header),
            issue_code="invariant",
        )
    if use_case not in bars.USE_CASES:
        problems += 1
        yield HEADER_RULES.failed(
            f"{check_id}.use-case",
            f"use-context use case {_quote(use_case)} is not valid: {_spelling(use_case)} (e.g. a1t1 for 111 to ED).",
            http(header),
            severity="warning",
            issue_code="code-invalid",
        )
    bundle = ctx.bundle
    if bundle is not None:
        categories: set[str] = set()
        use_cases: set[str] = set()
        for entry in bundle.of_type("ServiceRequest"):
            categories |= _codes_in(entry.resource, "category", bars.SERVICE_REQUEST_CATEGORY_SYSTEM)
            use_cases |= _codes_in(entry.resource, "category", bars.USE_CASES_SYSTEM)
        for entry in bundle.of_type("Appointment"):
            use_cases |= _codes_in(entry.resource, "serviceCategory", bars.USE_CASES_SYSTEM)
        if ctx.event_code == "booking-request":
            categories = {"booking"}
        if categories and category not in categories:
            problems += 1
            yield HEADER_RULES.failed(
                f"{check_id}.category",
                f"use-context category {_quote(category)} does not match the message "
                f"({', '.join(sorted(categories))}).",
                http(header),
                severity="warning",
                issue_code="invariant",
            )
        if use_cases and use_case in bars.USE_CASES and use_case not in use_cases:
            problems += 1
            yield HEADER_RULES.failed(
                f"{check_id}.use-case",
                f"use-context use case {_quote(use_case)} does not match the use case in the payload "
                f"({', '.join(sorted(use_cases))}).",
                http(header),
                severity="warning",
                issue_code="invariant",
            )
    judged = ctx.judgement
    named = get_catalogue().use_case(use_case)
    if named is not None and judged.application is not None and named.application != judged.application:
        problems += 1
        yield HEADER_RULES.failed(
            f"{check_id}.application",
            f"use-context use case {use_case} ({named.display}) is Application {named.application}'s, but the "
            f"request is judged as Application {judged.application} ({judged.why}).",
            http(header),
            issue_code="business-rule",
        )
    if not problems:
        yield HEADER_RULES.passed(check_id, f"use-context {_quote(raw)} agrees with the message.", http(header))


def _ucc_codings(entry: Entry, element: str) -> list[tuple[str, str]]:
    """(location, code) of every usecases-categories-bars coding in ``element`` of a resource."""
    found: list[tuple[str, str]] = []
    concepts = entry.resource.get(element)
    for i, concept in enumerate(concepts if isinstance(concepts, list) else []):
        codings = concept.get("coding") if isinstance(concept, dict) else None
        for j, coding in enumerate(codings if isinstance(codings, list) else []):
            if isinstance(coding, dict) and str(coding.get("system", "")).lower().rstrip("/").endswith(
                "fhir.nhs.uk/codesystem/usecases-categories-bars"
            ):
                found.append((f"{entry.path}.{element}[{i}].coding[{j}]", str(coding.get("code") or "")))
    return found


@RULES.rule("ucc.payload", "The payload carries one current use case (UCC) of its Application", _MESSAGE)
def payload_use_case(ctx: ValidationContext) -> Iterator[Finding]:
    bundle = ctx.bundle
    if bundle is None:
        return
    # The use case lives on the message's subject: the Appointment of a booking, else the ServiceRequest.
    if ctx.event_code == "booking-request":
        holders = [(e, "serviceCategory") for e in bundle.of_type("Appointment")]
    else:
        holders = [(e, "category") for e in bundle.of_type("ServiceRequest")]
    if not holders:
        return
    catalogue = get_catalogue()
    judged = ctx.judgement
    for entry, element in holders:
        where = f"{entry.path}.{element}"
        codings = _ucc_codings(entry, element)
        if not codings:
            yield RULES.failed(
                "ucc.payload",
                f"{entry.resource_type}.{element} has no use-case category: add a coding of "
                f"{bars.USE_CASES_SYSTEM}"
                + (f" ({judged.use_case}, {judged.use_case_display})" if judged.use_case else "")
                + ". TKW reports a missing UCC.",
                where,
                issue_code="required",
            )
            continue
        if len({code.lower() for _, code in codings}) > 1:
            yield RULES.failed(
                "ucc.payload",
                f"{entry.resource_type}.{element} has {len(codings)} different use cases "
                f"({', '.join(code for _, code in codings)}); a message has one.",
                codings[1][0],
                issue_code="invariant",
            )
        location, code = codings[0]
        use_case = catalogue.use_case(code)
        if use_case is None:
            severity: Severity = "warning" if catalogue.use_case(code.lower()) is not None else "error"
            yield RULES.failed(
                "ucc.payload",
                f"Use case {code!r} is not valid: {_spelling(code)}.",
                f"{location}.code",
                severity=severity,
                issue_code="code-invalid",
            )
            use_case = catalogue.use_case(code.lower())
            if use_case is None:
                continue
        if use_case.status != "active":
            yield RULES.failed(
                "ucc.payload",
                f"Use case {use_case.code} ({use_case.display}) is {use_case.status}; "
                + (
                    "use a5t1 (Primary Care to Community Pharmacy) instead."
                    if use_case.application == 5
                    else "use a live use case of the Application."
                ),
                f"{location}.code",
                severity="warning",
                issue_code="code-invalid",
            )
        if judged.application is not None and use_case.application != judged.application:
            yield RULES.failed(
                "ucc.payload",
                f"Use case {use_case.code} ({use_case.display}) is Application {use_case.application}'s, but the "
                f"request is judged as Application {judged.application} ({judged.why}).",
                f"{location}.code",
                issue_code="business-rule",
            )
        elif use_case.status == "active" and code == use_case.code:
            yield RULES.passed(
                "ucc.payload",
                f"{entry.resource_type}.{element} names use case {use_case.code} ({use_case.display}) of "
                f"Application {use_case.application}.",
                f"{location}.code",
            )


@RULES.rule(
    "ucc.context",
    "A MessageDefinition search's use case is the target service's",
    {Operation.MESSAGE_DEFINITION_SEARCH},
)
def context(ctx: ValidationContext) -> Iterator[Finding]:
    code = context_use_case(ctx)
    if code is None:
        return
    catalogue = get_catalogue()
    use_case = catalogue.use_case(code)
    services = [
        v.rpartition("|")[2].strip()
        for v in ctx.request.params("context")
        if not v.lower().replace("http://", "https://").startswith(bars.USE_CASES_SYSTEM.lower())
    ]
    service = catalogue.service(services[0] if services else None)
    if use_case is None or service is None:
        return  # an unknown code is query.message-definition.context's finding
    if use_case.application in service.applications:
        yield RULES.passed(
            "ucc.context", f"context use case {code} is served by {service.name} ({service.id}).", "query.context"
        )
    else:
        served = ", ".join(str(n) for n in service.applications)
        yield RULES.failed(
            "ucc.context",
            f"context use case {code} ({use_case.display}) is Application {use_case.application}'s; the service "
            f"{service.id} ({service.name}) serves Applications {served}.",
            "query.context",
            severity="warning",
            issue_code="business-rule",
        )
