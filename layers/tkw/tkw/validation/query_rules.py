"""Search and read parameters of /Slot, /MessageDefinition, /Appointment and /ServiceRequest
(BARS-API.md §2.2-2.6 and §9.2; the spellings traps of §12.3-12.6).

Which parameters each operation takes is data (:data:`SEARCH_PARAMETERS`); a generic rule checks
presence, repetition and unknown names, and one small rule per parameter checks its value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from tkw.routes import Operation
from tkw.validation import bars_data as bars
from tkw.validation.context import ValidationContext
from tkw.validation.findings import Finding, Severity
from tkw.validation.header_rules import UUID_PATTERN
from tkw.validation.nhs_number import check_digit, is_ten_digits
from tkw.validation.registry import RuleSet

RULES = RuleSet("query")

HEALTHCARE_SERVICE = "Schedule.actor:HealthcareService"
PATIENT_IDENTIFIER = "patient:identifier"


@dataclass(frozen=True, slots=True)
class SearchParameter:
    name: str
    required: bool
    max_occurrences: int | None  # None: any number
    repeat_severity: Severity = "warning"  # sent more often than allowed
    note: str = ""  # the spec's instruction, quoted when it is broken


def _params(*params: SearchParameter) -> Mapping[str, SearchParameter]:
    return MappingProxyType({p.name: p for p in params})


_PATIENT = SearchParameter(PATIENT_IDENTIFIER, True, 1)
SEARCH_PARAMETERS: Mapping[Operation, Mapping[str, SearchParameter]] = MappingProxyType(
    {
        Operation.SLOT_SEARCH: _params(
            SearchParameter(
                "status",
                True,
                1,
                "error",
                "several statuses go comma-separated in one parameter (status=free,busy), not repeated",
            ),
            SearchParameter("start", True, 2, "error", "start is sent twice: once with ge, once with le"),
            # Optional in the OpenAPI, mandatory in the IG (BARS-API.md §12.4): the IG wins.
            SearchParameter(HEALTHCARE_SERVICE, True, 1),
            SearchParameter("_include", True, None),
        ),
        # 1.2.0+ pairs the service with a use-case category as a second context.
        Operation.MESSAGE_DEFINITION_SEARCH: _params(SearchParameter("context", True, 2)),
        Operation.APPOINTMENT_SEARCH: _params(_PATIENT),
        Operation.SERVICE_REQUEST_SEARCH: _params(_PATIENT, SearchParameter("ServiceRequest.identifier", False, 1)),
    }
)
# Defined only from API 1.1.0 on: reported as information, not as unknown.
LATER_VERSION_PARAMETERS: Mapping[Operation, frozenset[str]] = MappingProxyType(
    {
        Operation.APPOINTMENT_SEARCH: frozenset({"patient:name", "patient:birthdate", "patient:address-postalcode"}),
        Operation.SERVICE_REQUEST_SEARCH: frozenset(
            {"patient:name", "patient:birthdate", "patient:address-postalcode"}
        ),
    }
)
READS = frozenset({Operation.APPOINTMENT_READ, Operation.SERVICE_REQUEST_READ})


def q(name: str) -> str:
    return f"query.{name}"


@RULES.rule("query.parameters", "Required search parameters are sent, as often as allowed, and no unknown ones")
def parameters(ctx: ValidationContext) -> Iterator[Finding]:
    known = SEARCH_PARAMETERS.get(ctx.operation, MappingProxyType({}))
    later = LATER_VERSION_PARAMETERS.get(ctx.operation, frozenset())
    query = ctx.request.query
    problems = 0
    for name, spec in known.items():
        values = query.get(name, ())
        if not values:
            if spec.required:
                problems += 1
                yield RULES.failed(
                    "query.parameters",
                    f"The {name} search parameter is required on this search and was not sent.",
                    q(name),
                    issue_code="required",
                )
            continue
        if spec.max_occurrences is not None and len(values) > spec.max_occurrences:
            problems += 1
            yield RULES.failed(
                "query.parameters",
                f"{name} was sent {len(values)} times; at most {spec.max_occurrences} allowed"
                + (f" ({spec.note})" if spec.note else "")
                + ".",
                q(name),
                severity=spec.repeat_severity,
                issue_code="value",
            )
    for name in sorted(set(query) - set(known)):
        problems += 1
        if name in later:
            yield RULES.failed(
                "query.parameters",
                f"{name} is a search parameter of BaRS API 1.1.0 and later, not 1.0.0.",
                q(name),
                severity="info",
                issue_code="not-supported",
            )
        else:
            expected = ", ".join(known) if known else "none"
            yield RULES.failed(
                "query.parameters",
                f"{name} is not a BaRS search parameter here and is ignored (this request takes: {expected}).",
                q(name),
                severity="warning",
                issue_code="not-supported",
            )
    if not problems and known:
        yield RULES.passed("query.parameters", "The search sends the parameters BaRS requires.", "query")


# -- /Slot --------------------------------------------------------------------------------------


@RULES.rule("query.slot.status", "Slot status is free and/or busy", {Operation.SLOT_SEARCH})
def slot_status(ctx: ValidationContext) -> Iterator[Finding]:
    values = ctx.request.params("status")
    if not values:
        return
    statuses = [s.strip() for v in values for s in v.split(",")]
    wrong = [s for s in statuses if s not in ("free", "busy")]
    if wrong:
        yield RULES.failed(
            "query.slot.status",
            f"status {', '.join(repr(w) for w in wrong)} is not allowed; use free, busy or free,busy.",
            q("status"),
            issue_code="value",
        )
    else:
        yield RULES.passed("query.slot.status", f"status is {','.join(statuses)}.", q("status"))


_START = re.compile(
    r"^(eq|ne|gt|lt|ge|le|sa|eb|ap)?(\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?)(Z|[+-]\d{2}:\d{2})?$"
)
_LOWER, _UPPER = frozenset({"ge", "gt"}), frozenset({"le", "lt"})


@RULES.rule("query.slot.start", "Slot start is a UTC window: ge<dateTime> and le<dateTime>", {Operation.SLOT_SEARCH})
def slot_start(ctx: ValidationContext) -> Iterator[Finding]:
    values = ctx.request.params("start")
    if not values:
        return
    example = "start=ge2022-03-01T12:00:00+00:00&start=le2022-03-01T13:30:00+00:00"
    bounds: dict[str, datetime] = {}
    problems = 0
    for raw in values:
        value = raw.strip()
        if re.search(r" \d{2}:\d{2}$", value):
            # An unencoded "+" in a query string arrives as a space.
            value = value[:-6] + "+" + value[-5:]
            yield RULES.failed(
                "query.slot.start.encoding",
                f"start {raw!r} has a space where the UTC offset's '+' belongs: URL-encode '+' as %2B.",
                q("start"),
                severity="warning",
                issue_code="value",
            )
        match = _START.match(value)
        if match is None:
            problems += 1
            yield RULES.failed(
                "query.slot.start",
                f"start {raw!r} is not a FHIR dateTime with a prefix; expected e.g. {example}.",
                q("start"),
                issue_code="value",
            )
            continue
        prefix, moment, offset = match.group(1) or "", match.group(2), match.group(3)
        if offset is None or "T" not in moment:
            problems += 1
            yield RULES.failed(
                "query.slot.start",
                f"start {raw!r} has no time with a UTC offset; every BaRS dateTime carries one (+00:00).",
                q("start"),
                issue_code="value",
            )
            continue
        if offset not in ("Z", "+00:00", "-00:00"):
            problems += 1
            yield RULES.failed(
                "query.slot.start",
                f"start {raw!r} is not in UTC (offset {offset}); send +00:00.",
                q("start"),
                issue_code="value",
            )
            continue
        when = datetime.fromisoformat(moment + ("+00:00" if offset == "Z" else offset))
        if prefix in _LOWER:
            bounds["lower"] = when
        elif prefix in _UPPER:
            bounds["upper"] = when
        else:
            problems += 1
            yield RULES.failed(
                "query.slot.start",
                f"start {raw!r} has prefix {prefix or '(none)'!r}; the window is given with ge and le: {example}.",
                q("start"),
                issue_code="value",
            )
    if problems:
        return
    missing = [name for name, key in (("ge", "lower"), ("le", "upper")) if key not in bounds]
    if missing:
        yield RULES.failed(
            "query.slot.start",
            f"start has no {' and no '.join(missing)} bound; a Slot search gives both ends of the window: {example}.",
            q("start"),
            issue_code="required",
        )
    elif bounds["lower"] >= bounds["upper"]:
        yield RULES.failed(
            "query.slot.start",
            "start's ge bound is not before its le bound: the window is empty.",
            q("start"),
            issue_code="value",
        )
    else:
        hours = (bounds["upper"] - bounds["lower"]) / timedelta(hours=1)
        yield RULES.passed("query.slot.start", f"start gives a UTC window of {hours:g} hours.", q("start"))


@RULES.rule(
    "query.slot.healthcare-service",
    "Schedule.actor:HealthcareService names the target service",
    {Operation.SLOT_SEARCH},
)
def slot_healthcare_service(ctx: ValidationContext) -> Iterator[Finding]:
    value = (ctx.request.param(HEALTHCARE_SERVICE) or "").strip()
    if not ctx.request.params(HEALTHCARE_SERVICE):
        return
    service = value.rpartition("|")[2].strip()
    if not service:
        yield RULES.failed(
            "query.slot.healthcare-service",
            f"{HEALTHCARE_SERVICE} is empty; send the service id, e.g. 2000099999.",
            q(HEALTHCARE_SERVICE),
            issue_code="value",
        )
        return
    target = ctx.target
    if target is not None and service != target.value:
        yield RULES.failed(
            "query.slot.healthcare-service",
            f"{HEALTHCARE_SERVICE} {service!r} is not the target service {target.value!r} named by "
            "NHSD-Target-Identifier (the IG expects them to be the same for current use cases).",
            q(HEALTHCARE_SERVICE),
            severity="warning",
            issue_code="invariant",
        )
        return
    yield RULES.passed("query.slot.healthcare-service", f"{HEALTHCARE_SERVICE} is {service}.", q(HEALTHCARE_SERVICE))


SLOT_INCLUDES = frozenset(
    {
        "Slot:schedule",
        "Schedule:actor:Practitioner",
        "Schedule:actor:PractitionerRole",
        "Schedule:actor:HealthcareService",
        "HealthcareService:providedBy",
        "HealthcareService:location",
        "Slot:*",
    }
)
MINIMUM_INCLUDES = ("Slot:schedule", "Schedule:actor:HealthcareService")
# Spellings seen in the CapabilityStatement and the sandbox (BARS-API.md §12.3) → the spec's.
INCLUDE_SPELLINGS = MappingProxyType(
    {
        "HealthcareService.providedBy": "HealthcareService:providedBy",
        "HealthcareService.location": "HealthcareService:location",
        "Schedule": "Slot:schedule",
    }
)


@RULES.rule(
    "query.slot.include",
    "_include has at least Slot:schedule and Schedule:actor:HealthcareService",
    {Operation.SLOT_SEARCH},
)
def slot_include(ctx: ValidationContext) -> Iterator[Finding]:
    values = ctx.request.params("_include")
    if not values:
        return
    if any("," in v for v in values):
        yield RULES.failed(
            "query.slot.include.repeat",
            "_include values are comma-separated; FHIR repeats the parameter instead "
            "(_include=Slot:schedule&_include=Schedule:actor:HealthcareService).",
            q("_include"),
            severity="warning",
            issue_code="value",
        )
    includes: set[str] = set()
    for value in (i.strip() for v in values for i in v.split(",")):
        if value in SLOT_INCLUDES:
            includes.add(value)
        elif value in INCLUDE_SPELLINGS:
            includes.add(INCLUDE_SPELLINGS[value])
            yield RULES.failed(
                "query.slot.include.spelling",
                f"_include {value!r} is not the spec's spelling; use {INCLUDE_SPELLINGS[value]!r}.",
                q("_include"),
                severity="warning",
                issue_code="value",
            )
        else:
            yield RULES.failed(
                "query.slot.include.unknown",
                f"_include {value!r} is not a BaRS Slot include and will be ignored; allowed: "
                f"{', '.join(sorted(SLOT_INCLUDES))}.",
                q("_include"),
                severity="warning",
                issue_code="not-supported",
            )
    missing = [] if "Slot:*" in includes else [i for i in MINIMUM_INCLUDES if i not in includes]
    if missing:
        yield RULES.failed(
            "query.slot.include",
            f"_include lacks {' and '.join(missing)}; BaRS requires at least Slot:schedule and "
            "Schedule:actor:HealthcareService.",
            q("_include"),
            issue_code="required",
        )
    else:
        yield RULES.passed("query.slot.include", "_include has the minimum includes.", q("_include"))


# -- /MessageDefinition -------------------------------------------------------------------------


@RULES.rule(
    "query.message-definition.context",
    "context is the target service (system|value), plus an optional use case",
    {Operation.MESSAGE_DEFINITION_SEARCH},
)
def message_definition_context(ctx: ValidationContext) -> Iterator[Finding]:
    values = ctx.request.params("context")
    if not values:
        return
    example = f"{bars.DOS_SYSTEM}|2000099999"
    services: list[str] = []
    problems = 0
    for raw in values:
        system, bar, value = raw.strip().rpartition("|")
        if not value.strip():
            problems += 1
            yield RULES.failed(
                "query.message-definition.context",
                f"context {raw!r} has no value; send {example}.",
                q("context"),
                issue_code="value",
            )
            continue
        if system == bars.USE_CASES_SYSTEM:
            if value not in bars.USE_CASES:
                problems += 1
                yield RULES.failed(
                    "query.message-definition.context",
                    f"context use case {value!r} is not a code of {bars.USE_CASES_SYSTEM}.",
                    q("context"),
                    severity="warning",
                    issue_code="code-invalid",
                )
            continue
        services.append(value.strip())
        if not bar:
            yield RULES.failed(
                "query.message-definition.context",
                f"context {raw!r} is a bare value; it is accepted, but system|value ({example}) is preferred.",
                q("context"),
                severity="info",
                issue_code="value",
            )
        elif system != bars.DOS_SYSTEM:
            problems += 1
            yield RULES.failed(
                "query.message-definition.context",
                f"context system {system!r} is not {bars.DOS_SYSTEM}.",
                q("context"),
                severity="warning",
                issue_code="value",
            )
    if not services:
        if not problems:
            yield RULES.failed(
                "query.message-definition.context",
                f"context names no service: send the target service as {example}.",
                q("context"),
                issue_code="required",
            )
        return
    target = ctx.target
    if target is not None and target.value not in services:
        yield RULES.failed(
            "query.message-definition.context",
            f"context service {services[0]!r} is not the target service {target.value!r}; for current use cases "
            "they are the same.",
            q("context"),
            severity="warning",
            issue_code="invariant",
        )
    elif not problems:
        yield RULES.passed("query.message-definition.context", f"context names service {services[0]}.", q("context"))


# -- /Appointment and /ServiceRequest -----------------------------------------------------------


@RULES.rule(
    "query.patient-identifier",
    "patient:identifier is https://fhir.nhs.uk/Id/nhs-number|<valid NHS number>",
    {Operation.APPOINTMENT_SEARCH, Operation.SERVICE_REQUEST_SEARCH},
)
def patient_identifier(ctx: ValidationContext) -> Iterator[Finding]:
    raw = ctx.request.param(PATIENT_IDENTIFIER)
    if raw is None:
        return
    location = q(PATIENT_IDENTIFIER)
    example = f"{bars.NHS_NUMBER_SYSTEM}|<NHS number>"
    system, bar, value = raw.strip().rpartition("|")
    # Messages never repeat the NHS number: it is patient data.
    if not bar:
        yield RULES.failed(
            "query.patient-identifier",
            f"{PATIENT_IDENTIFIER} is a bare value; BaRS requires the token form {example}.",
            location,
            issue_code="value",
        )
        return
    if system != bars.NHS_NUMBER_SYSTEM:
        yield RULES.failed(
            "query.patient-identifier",
            f"{PATIENT_IDENTIFIER} system {system!r} is not {bars.NHS_NUMBER_SYSTEM}.",
            location,
            issue_code="value",
        )
        return
    if not is_ten_digits(value):
        yield RULES.failed(
            "query.patient-identifier",
            f"{PATIENT_IDENTIFIER}'s value is not an NHS number: it must be exactly ten digits.",
            location,
            issue_code="value",
        )
        return
    if not check_digit(value).valid:
        yield RULES.failed(
            "query.patient-identifier.check-digit",
            f"{PATIENT_IDENTIFIER}'s NHS number fails the modulus-11 check (its last digit does not match the "
            "first nine). The official BaRS examples' numbers fail it too, so this is a warning.",
            location,
            severity="warning",
            issue_code="value",
        )
    yield RULES.passed("query.patient-identifier", f"{PATIENT_IDENTIFIER} is an NHS number token.", location)


@RULES.rule(
    "query.service-request.identifier",
    "ServiceRequest.identifier, when sent, is a token (system|value preferred)",
    {Operation.SERVICE_REQUEST_SEARCH},
)
def service_request_identifier(ctx: ValidationContext) -> Iterator[Finding]:
    name = "ServiceRequest.identifier"
    raw = ctx.request.param(name)
    if raw is None:
        return
    _, bar, value = raw.strip().rpartition("|")
    if not value.strip():
        yield RULES.failed(f"query.{name}", f"{name} has no value.", q(name), issue_code="value")
    elif not bar:
        yield RULES.failed(
            f"query.{name}",
            f"{name} is a bare value; it is accepted, but system|value is preferred.",
            q(name),
            severity="info",
            issue_code="value",
        )
    else:
        yield RULES.passed(f"query.{name}", f"{name} is a token.", q(name))


@RULES.rule("path.id", "The id of a read is a UUID", READS)
def read_id(ctx: ValidationContext) -> Iterator[Finding]:
    resource_id = ctx.request.path_params.get("id") or ctx.request.path.rstrip("/").rpartition("/")[2]
    resource = "Appointment" if ctx.operation is Operation.APPOINTMENT_READ else "ServiceRequest"
    if UUID_PATTERN.match(resource_id):
        yield RULES.passed("path.id", f"The {resource} id is a UUID.", "path.id")
    else:
        yield RULES.failed(
            "path.id",
            f"The {resource} id {resource_id[:80]!r} is not a UUID (the spec declares format uuid).",
            "path.id",
            issue_code="value",
        )
