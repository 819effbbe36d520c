"""Building the BaRS response messages the emulator sends back to a sender, from the IG's examples.

Pure: a request Bundle and its headers in, an :class:`OutboundMessage` (Bundle and HTTP headers)
out. The kinds, templates and sentinel triggers are data (``responses.yaml``, ``templates/``).
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from tkw.encoded_headers import ODS_SYSTEM, encode_base64_json
from tkw.receiver.suite import Sender

DOS_SERVICE_SYSTEM = "https://fhir.nhs.uk/Id/dos-service-id"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
CATEGORY_SYSTEM = "https://fhir.nhs.uk/CodeSystem/message-category-servicerequest"
USE_CASES_SYSTEM = "https://fhir.nhs.uk/CodeSystem/usecases-categories-bars"
FHIR_JSON = "application/fhir+json"

ResponseKind = Literal["interim", "full", "full-update", "reject", "dna", "out-of-area"]
# What POST /tkw/responses accepts (full-update is the second step of an interim trigger).
ON_DEMAND_KINDS: tuple[ResponseKind, ...] = ("interim", "full", "reject", "dna", "out-of-area")


class Responder(Sender):
    """Who the emulator says it is when it sends a response: as when it calls a receiver, plus Accept."""

    accept: str


class KindSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    template: str
    service_request_status: str
    responder_encounter_status: str | None = None


class Trigger(BaseModel):
    model_config = ConfigDict(frozen=True)

    nhs_number: str = Field(pattern=r"^[0-9]{10}$")
    test: str
    steps: list[ResponseKind] = Field(min_length=1)
    after_status: list[int] = Field(min_length=1)


class ResponseTable(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: int
    responder: Responder
    kinds: dict[ResponseKind, KindSpec]
    triggers: list[Trigger]

    def trigger_for(self, nhs_number: str | None) -> Trigger | None:
        return next((t for t in self.triggers if t.nhs_number == nhs_number), None)

    def template(self, kind: ResponseKind) -> dict[str, Any]:
        return copy.deepcopy(_template(self.kinds[kind].template))


@lru_cache(maxsize=1)
def load_table() -> ResponseTable:
    text = resources.files("tkw.outbound").joinpath("responses.yaml").read_text(encoding="utf-8")
    return ResponseTable.model_validate(yaml.safe_load(text))


@cache
def _template(name: str) -> dict[str, Any]:
    text = resources.files("tkw.outbound").joinpath("templates", name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


# -- reading the request -------------------------------------------------------------------------


class RequestFacts(BaseModel):
    """What a response needs from the request it answers."""

    model_config = ConfigDict(frozen=True)

    bundle_id: str | None
    sender_service: str | None  # DoS service id of MessageHeader.source.endpoint (the sender)
    sender_endpoint: str | None  # MessageHeader.source.endpoint as sent, e.g. https://...|2000072489
    emulated_endpoint: str | None  # MessageHeader.destination[0].endpoint (the service we emulate)
    nhs_number: str | None
    correlation_id: str | None
    use_case: str | None  # the first part of the request's use-context


def _entries(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    entries = bundle.get("entry")
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _resource(entry: Mapping[str, Any]) -> dict[str, Any]:
    resource = entry.get("resource")
    return resource if isinstance(resource, dict) else {}


def _first(bundle: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    return next((e for e in _entries(bundle) if _resource(e).get("resourceType") == kind), None)


def _service_id(endpoint: object) -> str | None:
    """The value of ``system|value`` (a bare value is taken as it is)."""
    if not isinstance(endpoint, str) or not endpoint.strip():
        return None
    return endpoint.rsplit("|", 1)[-1].strip() or None


def nhs_number_of(bundle: Mapping[str, Any]) -> str | None:
    patient = _first(bundle, "Patient")
    for identifier in _resource(patient).get("identifier") or [] if patient else []:
        if isinstance(identifier, dict) and identifier.get("system") == NHS_NUMBER_SYSTEM:
            value = identifier.get("value")
            return value if isinstance(value, str) else None
    return None


def request_facts(bundle: Mapping[str, Any], headers: Mapping[str, str]) -> RequestFacts:
    header = _first(bundle, "MessageHeader")
    message = _resource(header) if header else {}
    source: dict[str, Any] = message["source"] if isinstance(message.get("source"), dict) else {}
    destinations: list[Any] = message["destination"] if isinstance(message.get("destination"), list) else []
    first_destination: dict[str, Any] = destinations[0] if destinations and isinstance(destinations[0], dict) else {}
    lowered = {k.lower(): v for k, v in headers.items()}
    use_context = (lowered.get("use-context") or "").split("|")
    bundle_id = bundle.get("id")
    return RequestFacts(
        bundle_id=bundle_id if isinstance(bundle_id, str) else None,
        sender_service=_service_id(source.get("endpoint")),
        sender_endpoint=source.get("endpoint") if isinstance(source.get("endpoint"), str) else None,
        emulated_endpoint=first_destination.get("endpoint")
        if isinstance(first_destination.get("endpoint"), str)
        else None,
        nhs_number=nhs_number_of(bundle),
        correlation_id=lowered.get("x-correlation-id"),
        use_case=use_context[0].strip() or None if use_context else None,
    )


# -- building ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    kind: ResponseKind
    bundle: dict[str, Any]
    headers: tuple[tuple[str, str], ...]

    @property
    def body(self) -> bytes:
        return json.dumps(self.bundle, ensure_ascii=False).encode("utf-8")

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def _references(node: Any) -> Iterator[dict[str, Any]]:
    """Every ``{"reference": ...}`` object in a resource."""
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield node
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def _reference_of(resource: Mapping[str, Any], element: str) -> str | None:
    found = resource.get(element)
    return found.get("reference") if isinstance(found, dict) and isinstance(found.get("reference"), str) else None


def _swap(
    template: dict[str, Any],
    request: Mapping[str, Any],
    pick: Callable[[Mapping[str, Any]], dict[str, Any] | None],
    renames: dict[str, str],
) -> dict[str, Any] | None:
    """Put the request's entry in place of the template's; remember the template's fullUrl."""
    ours, theirs = pick(template), pick(request)
    if ours is None or theirs is None:
        return None
    renames[str(ours["fullUrl"])] = str(theirs["fullUrl"])
    ours["fullUrl"] = theirs["fullUrl"]
    ours["resource"] = copy.deepcopy(_resource(theirs))
    return ours


def _adopt_service_request(
    bundle: dict[str, Any], request_bundle: Mapping[str, Any], status: str, renames: dict[str, str]
) -> None:
    """The template's ServiceRequest with the request's fullUrl, id and identifiers, and ``status``.

    The template's own references (and category) are kept: they fit the response's MessageDefinition,
    where the request's would bring in resources it does not list.
    """
    ours, theirs = _first(bundle, "ServiceRequest"), _first(request_bundle, "ServiceRequest")
    if ours is None:
        return
    resource = ours["resource"]
    resource["status"] = status
    if theirs is None:
        return
    requested = _resource(theirs)
    full_url = str(theirs.get("fullUrl") or "")
    renames[str(ours["fullUrl"])] = full_url
    ours["fullUrl"] = full_url
    if isinstance(requested.get("id"), str):
        resource["id"] = requested["id"]
    elif full_url.startswith("urn:uuid:"):
        resource["id"] = full_url.removeprefix("urn:uuid:")
    if requested.get("identifier"):
        resource["identifier"] = copy.deepcopy(requested["identifier"])


def _encounter_of(bundle: Mapping[str, Any]) -> dict[str, Any] | None:
    request = _first(bundle, "ServiceRequest")
    wanted = _reference_of(_resource(request), "encounter") if request else None
    found: dict[str, Any] | None = next((e for e in _entries(bundle) if wanted and e.get("fullUrl") == wanted), None)
    return found


def _codes(resource: Mapping[str, Any], system: str) -> list[str]:
    found: list[str] = []
    for concept in resource.get("category") or []:
        for coding in concept.get("coding") or [] if isinstance(concept, dict) else []:
            if isinstance(coding, dict) and coding.get("system") == system and isinstance(coding.get("code"), str):
                found.append(coding["code"])
    return found


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def build_response(
    kind: ResponseKind,
    request_bundle: Mapping[str, Any],
    request_headers: Mapping[str, str],
    *,
    trigger_id: str,
    request_id: str | None = None,
    now: datetime | None = None,
    table: ResponseTable | None = None,
) -> OutboundMessage:
    """The ``kind`` response to ``request_bundle``, as the emulated service sends it to the sender."""
    table = table or load_table()
    spec = table.kinds[kind]
    facts = request_facts(request_bundle, request_headers)
    moment = now or datetime.now(UTC)
    bundle = table.template(kind)
    renames: dict[str, str] = {}

    _swap(bundle, request_bundle, lambda b: _first(b, "Patient"), renames)
    request_encounter = _swap(bundle, request_bundle, _encounter_of, renames)
    _adopt_service_request(bundle, request_bundle, spec.service_request_status, renames)

    # The responder's own Encounter: fixed per trigger, so an interim and its full response agree.
    responder_encounter = next(
        (e for e in _entries(bundle) if _resource(e).get("resourceType") == "Encounter" and e is not request_encounter),
        None,
    )
    if responder_encounter is not None:
        encounter_id = str(uuid.uuid5(uuid.UUID(trigger_id), "responder-encounter"))
        renames[str(responder_encounter["fullUrl"])] = f"urn:uuid:{encounter_id}"
        responder_encounter["fullUrl"] = f"urn:uuid:{encounter_id}"
        responder_encounter["resource"]["id"] = encounter_id
        if spec.responder_encounter_status:
            responder_encounter["resource"]["status"] = spec.responder_encounter_status

    message_id = str(uuid.uuid4())
    header_entry = bundle["entry"][0]
    header = _resource(header_entry)
    renames[str(header_entry["fullUrl"])] = f"urn:uuid:{message_id}"
    header_entry["fullUrl"] = f"urn:uuid:{message_id}"
    header["id"] = message_id
    for reference in _references(bundle):
        reference["reference"] = renames.get(reference["reference"], reference["reference"])
    _copy_referenced(bundle, request_bundle)
    _drop_dangling_episodes(bundle)

    if facts.bundle_id:
        header["response"] = {"identifier": facts.bundle_id, "code": "ok"}
    sender_endpoint = f"{DOS_SERVICE_SYSTEM}|{facts.sender_service}" if facts.sender_service else None
    if sender_endpoint:
        destination = header.get("destination") or [{}]
        destination[0]["endpoint"] = sender_endpoint
        header["destination"] = destination[:1]
    source = header.setdefault("source", {})
    if facts.emulated_endpoint:
        source["endpoint"] = facts.emulated_endpoint
    source["software"] = table.responder.software_name
    source["version"] = table.responder.software_version

    bundle["id"] = str(uuid.uuid4())
    bundle["timestamp"] = _iso(moment)
    bundle.setdefault("meta", {})["lastUpdated"] = _iso(moment)
    headers = _headers(kind, bundle, facts, table, request_id or str(uuid.uuid4()))
    return OutboundMessage(kind=kind, bundle=bundle, headers=headers)


def _copy_referenced(bundle: dict[str, Any], request_bundle: Mapping[str, Any]) -> None:
    """Copy in every request entry a reference needs, so the response resolves on its own."""
    available = {str(e.get("fullUrl")): e for e in _entries(request_bundle)}
    present = {str(e.get("fullUrl")) for e in _entries(bundle)}
    pending = [bundle]
    while pending:
        node = pending.pop()
        for reference in _references(node):
            wanted = reference["reference"]
            if wanted not in present and wanted in available:
                entry = copy.deepcopy(available[wanted])
                bundle["entry"].append(entry)
                present.add(wanted)
                pending.append(entry)


def _drop_dangling_episodes(bundle: dict[str, Any]) -> None:
    """The IG examples' Encounters name an EpisodeOfCare no example carries: leave such links out."""
    present = {str(e.get("fullUrl")) for e in _entries(bundle)}
    for entry in _entries(bundle):
        resource = _resource(entry)
        episodes = resource.get("episodeOfCare")
        if resource.get("resourceType") != "Encounter" or not isinstance(episodes, list):
            continue
        kept = [e for e in episodes if isinstance(e, dict) and e.get("reference") in present]
        if kept:
            resource["episodeOfCare"] = kept
        else:
            resource.pop("episodeOfCare", None)


def use_context_of(bundle: Mapping[str, Any], fallback_use_case: str | None) -> str:
    """``use case|category|event|reason`` read from the message itself, so they cannot disagree."""
    header = _resource(bundle["entry"][0])
    service_request = _first(bundle, "ServiceRequest")
    resource = _resource(service_request) if service_request else {}
    use_cases, categories = _codes(resource, USE_CASES_SYSTEM), _codes(resource, CATEGORY_SYSTEM)
    event = (header.get("eventCoding") or {}).get("code", "servicerequest-response")
    reasons = ((header.get("reason") or {}).get("coding") or [{}])[0]
    return "|".join(
        (
            use_cases[0] if use_cases else (fallback_use_case or "a4t1"),
            categories[0] if categories else "validation",
            str(event),
            str(reasons.get("code") or "new"),
        )
    )


def target_header(service_id: str) -> str:
    return encode_base64_json({"system": DOS_SERVICE_SYSTEM, "value": service_id})


def _headers(
    kind: ResponseKind, bundle: Mapping[str, Any], facts: RequestFacts, table: ResponseTable, request_id: str
) -> tuple[tuple[str, str], ...]:
    responder = table.responder
    organisation = {
        "resourceType": "Organization",
        "identifier": [{"system": ODS_SYSTEM, "value": responder.ods_code}],
        "name": responder.organisation_name,
    }
    software = {
        "resourceType": "Device",
        "identifier": [{"system": responder.software_identifier_system, "value": responder.software_identifier}],
        "deviceName": [{"name": responder.software_name, "type": "manufacturer-name"}],
        "version": [{"value": responder.software_version}],
    }
    headers = [
        ("Content-Type", FHIR_JSON),
        ("Accept", responder.accept),
        ("X-Request-Id", request_id),
        ("X-Correlation-Id", facts.correlation_id or str(uuid.uuid4())),
        ("NHSD-End-User-Organisation", encode_base64_json(organisation)),
        ("NHSD-Requesting-Software", encode_base64_json(software)),
        ("use-context", use_context_of(bundle, facts.use_case)),
    ]
    if facts.sender_service:
        headers.insert(4, ("NHSD-Target-Identifier", target_header(facts.sender_service)))
    return tuple(headers)
