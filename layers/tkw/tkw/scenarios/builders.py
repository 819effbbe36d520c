"""Response builders: canned resources prepared once per process, finished per request.

Per-request work is kept to copying small pre-serialised JSON (so no caller can corrupt the cache)
and filling in what depends on the request: search ids, timestamps and self links, Slot times and
filters, the patient of a search, the ids of an echoed message.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, NamedTuple
from urllib.parse import urlencode

from tkw import BASE_PATH
from tkw.message_kinds import NHS_NUMBER_SYSTEM

# tkw.applications (the Application catalogue) is imported where it is used: the GET handlers, and
# their cold starts, never need it.

BUNDLE_PROFILE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Bundle"
USAGE_CONTEXT_TYPE = "http://terminology.hl7.org/CodeSystem/usage-context-type"
# The MessageDefinitions' useContext names the service with this placeholder (as in the IG).
SERVICE_PLACEHOLDER = "dos-id"


def resources_root() -> Traversable:
    return resources.files("tkw.scenarios").joinpath("resources")


def load_resource(root: Traversable, name: str) -> dict[str, Any]:
    data = json.loads(root.joinpath(*name.split("/")).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        raise ValueError(f"resources/{name} is not a FHIR resource")
    return data


def _dump(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def now_instant() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def self_link(base_url: str, path: str, query: Iterable[tuple[str, str]]) -> str:
    pairs = list(query)
    # ':' and ',' stay readable (Schedule.actor:HealthcareService, status=free,busy); '|' is encoded.
    return base_url + path + ("?" + urlencode(pairs, safe=":,") if pairs else "")


def query_pairs(query: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    return [(name, value) for name, values in query.items() for value in values]


def searchset(entries: list[dict[str, Any]], total: int, link: str) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [BUNDLE_PROFILE]},
        "type": "searchset",
        "timestamp": now_instant(),
        "total": total,
        "link": [{"relation": "self", "url": link}],
    }
    if entries:  # FHIR JSON has no empty arrays
        bundle["entry"] = entries
    return bundle


class CannedResource:
    """A resource served as is (a fresh copy each time)."""

    def __init__(self, resource: Mapping[str, Any]) -> None:
        self.resource_type = str(resource["resourceType"])
        self.id = resource.get("id")
        self._text = _dump(resource)

    def build(self) -> dict[str, Any]:
        return json.loads(self._text)  # type: ignore[no-any-return]


class MessageDefinitions:
    """The searchset of MessageDefinitions a service uses; useContext names the service asked for."""

    def __init__(self, definitions: Sequence[Mapping[str, Any]]) -> None:
        entries = [
            {"fullUrl": f"__BASE__/MessageDefinition/{d['id']}", "resource": d, "search": {"mode": "match"}}
            for d in definitions
        ]
        self.total = len(entries)
        self._text = _dump(entries)
        placeholder = json.dumps(SERVICE_PLACEHOLDER)
        if self._text.count(placeholder) != self.total:
            raise ValueError(f"each MessageDefinition must name the service once as {placeholder}")

    def build(self, service_id: str, base_url: str, link: str) -> dict[str, Any]:
        text = self._text.replace(json.dumps(SERVICE_PLACEHOLDER), json.dumps(service_id))
        text = text.replace("__BASE__", json.dumps(base_url + BASE_PATH)[1:-1])
        entries = json.loads(text)
        use_cases = service_use_cases(service_id)
        if use_cases:
            for entry in entries:
                entry["resource"]["useContext"] = with_use_cases(entry["resource"].get("useContext", []), use_cases)
        return searchset(entries, self.total, link)


def service_use_cases(service_id: str) -> list[tuple[str, str]]:
    """(code, display) of the live use cases of the one Application a TKW service answers as (NBRS-3798:
    TKW's MessageDefinitions name the service's use cases); empty for a shared or unknown service."""
    from tkw.applications import get_catalogue

    catalogue = get_catalogue()
    service = catalogue.service(service_id)
    number = service.dedicated if service is not None else None
    if number is None:
        return []
    return [(c, u.display) for c, u in catalogue.use_cases.items() if u.application == number and u.status == "active"]


def with_use_cases(use_context: list[dict[str, Any]], use_cases: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """A MessageDefinition's useContext with its use-case categories replaced by ``use_cases``."""
    from tkw.applications import get_catalogue

    system = get_catalogue().use_case_system
    kept = [
        u
        for u in use_context
        if not any(c.get("system") == system for c in u.get("valueCodeableConcept", {}).get("coding", []))
    ]
    return kept + [
        {
            "code": {"system": USAGE_CONTEXT_TYPE, "code": "workflow"},
            "valueCodeableConcept": {"coding": [{"system": system, "code": code, "display": display}]},
        }
        for code, display in use_cases
    ]


# Slot search: which `_include` pulls in which resource type (spellings of the spec, the
# CapabilityStatement and FHIR's wildcard all accepted; the self link shows the spec's).
INCLUDES: dict[str, str] = {
    "Slot:schedule": "Schedule",
    "Schedule:actor:HealthcareService": "HealthcareService",
    "Schedule:actor:Practitioner": "Practitioner",
    "Schedule:actor:PractitionerRole": "PractitionerRole",
    "HealthcareService:providedBy": "Organization",
    "HealthcareService:location": "Location",
}
INCLUDE_ALIASES: dict[str, str] = {
    "slot:*": "Slot:schedule",
    **{name.lower(): name for name in INCLUDES},
    **{name.replace("HealthcareService:", "HealthcareService.").lower(): name for name in INCLUDES},
}
SLOT_STEP = timedelta(minutes=30)


class SlotWindow(NamedTuple):
    """The `start` parameter: lower/upper bounds (``ge``/``gt``, ``le``/``lt``) when parseable."""

    lower: datetime | None = None
    upper: datetime | None = None
    upper_inclusive: bool = True


_START = re.compile(r"^(eq|ge|gt|le|lt|sa|eb)?(\d{4}-\d{2}-\d{2}.*)$")


def parse_window(values: Iterable[str]) -> SlotWindow:
    lower: datetime | None = None
    upper: datetime | None = None
    inclusive = True
    for raw in values:
        found = _START.match(raw.strip())
        if not found:
            continue  # malformed dates are a validation finding, not a reason to fail the search
        prefix, text = found.group(1) or "eq", found.group(2)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "+"))
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if prefix in ("ge", "gt", "eq", "sa"):
            lower = moment
        if prefix in ("le", "lt", "eb"):
            upper, inclusive = moment, prefix == "le"
    return SlotWindow(lower, upper, inclusive)


class SlotSet:
    """A service's Slots and the resources a search may include.

    Slot times in the file are kept relative to its first Slot and re-based on each search, at the
    start of the asked window (or tomorrow 09:00 UTC), so results fall inside the sender's window.
    """

    def __init__(self, bundle: Mapping[str, Any]) -> None:
        slots: list[tuple[str, timedelta, timedelta, str]] = []
        included: dict[str, list[str]] = {}
        first: datetime | None = None
        for entry in bundle.get("entry", []):
            resource = entry["resource"]
            if resource["resourceType"] == "Slot":
                start = datetime.fromisoformat(resource["start"])
                end = datetime.fromisoformat(resource["end"])
                first = first or start
                plain = {**entry, "resource": {k: v for k, v in resource.items() if k not in ("start", "end")}}
                slots.append((str(resource["status"]), start - first, end - start, _dump(plain)))
            else:
                included.setdefault(resource["resourceType"], []).append(
                    _dump({**entry, "search": {"mode": "include"}})
                )
        self._slots = slots
        self._included = included
        self.include_types = frozenset(included)

    def honoured(self, requested: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """The (parameter, include) pairs this service can serve, in the spec's spelling, without repeats."""
        result: list[tuple[str, str]] = []
        seen: set[str] = set()
        for param, raw in requested:
            for part in raw.split(","):
                name = INCLUDE_ALIASES.get(part.strip().lower())
                if name and INCLUDES[name] in self.include_types and name not in seen:
                    seen.add(name)
                    result.append((param, name))
        return result

    def build(
        self, statuses: frozenset[str], window: SlotWindow, includes: Sequence[str], now: datetime, link: str
    ) -> dict[str, Any]:
        anchor = _anchor(window.lower, now)
        entries: list[dict[str, Any]] = []
        for status, offset, length, text in self._slots:
            if status not in statuses:
                continue
            start = anchor + offset
            if window.upper is not None and (
                start > window.upper or (start == window.upper and not window.upper_inclusive)
            ):
                continue
            entry = json.loads(text)
            entry["resource"]["start"] = start.isoformat()
            entry["resource"]["end"] = (start + length).isoformat()
            entry["search"] = {"mode": "match"}
            entries.append(entry)
        total = len(entries)
        if entries:  # includes only accompany matches
            for name in includes:
                entries += [json.loads(text) for text in self._included[INCLUDES[name]]]
        return searchset(entries, total, link)


def _anchor(lower: datetime | None, now: datetime) -> datetime:
    if lower is None:
        return datetime(now.year, now.month, now.day, 9, tzinfo=UTC) + timedelta(days=1)
    lower = lower.astimezone(UTC)
    floor = lower.replace(minute=0, second=0, microsecond=0)
    steps = -(-(lower - floor) // SLOT_STEP)  # ceiling: the first half hour at or after the bound
    return floor + steps * SLOT_STEP


class PatientSearch:
    """Canned resources returned for any patient, naming the patient searched for."""

    def __init__(self, resources_: Sequence[Mapping[str, Any]]) -> None:
        self._texts = [(str(r["resourceType"]), str(r["id"]), _dump(r)) for r in resources_]

    def build(self, nhs_number: str, base_url: str, link: str) -> dict[str, Any]:
        entries = []
        for resource_type, resource_id, text in self._texts:
            resource = json.loads(text)
            _set_patient(resource, nhs_number)
            entries.append(
                {
                    "fullUrl": f"{base_url}{BASE_PATH}/{resource_type}/{resource_id}",
                    "resource": resource,
                    "search": {"mode": "match"},
                }
            )
        return searchset(entries, len(entries), link)


def _set_patient(resource: dict[str, Any], nhs_number: str) -> None:
    """Point the resource's patient (Appointment participant / ServiceRequest subject) at this NHS number."""
    references = [resource.get("subject")] + [p.get("actor") for p in resource.get("participant", [])]
    for reference in references:
        if isinstance(reference, dict) and reference.get("type") == "Patient":
            reference["identifier"] = {"system": NHS_NUMBER_SYSTEM, "value": nhs_number}


def echo_message(
    bundle: Mapping[str, Any],
    focus_index: int,
    focus_id: str | None,
    new_id: Callable[[], str] | None = None,
    use_case: str | None = None,
) -> dict[str, Any]:
    """The synchronous $process-message answer: the request Bundle with the receiver's ids assigned.

    The focus gets ``focus_id`` (when the scenario names one); any other resource without an id gets a
    fresh UUID4. A ServiceRequest or Appointment focus without a use-case category gets ``use_case``
    (TKW 1.0.19, NBRS-3800: the UCC is in TKW's synchronous responses). Copies only what changes, so
    the request stays as received (for the report).
    """
    make_id = new_id or (lambda: str(uuid.uuid4()))
    entries: list[Any] = []
    for index, entry in enumerate(bundle.get("entry") or []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict):
            resource = dict(resource)
            if index == focus_index and focus_id:
                resource["id"] = focus_id
            elif not isinstance(resource.get("id"), str) or not resource["id"]:
                resource["id"] = make_id()
            if index == focus_index and use_case:
                _ensure_use_case(resource, use_case)
            entry = {**entry, "resource": resource}
        entries.append(entry)
    return {**bundle, "entry": entries}


def _ensure_use_case(resource: dict[str, Any], code: str) -> None:
    """Add the use-case category to a ServiceRequest (category) or Appointment (serviceCategory)
    that has none; the resource is already a copy."""
    from tkw.applications import get_catalogue

    element = {"ServiceRequest": "category", "Appointment": "serviceCategory"}.get(str(resource.get("resourceType")))
    catalogue = get_catalogue()
    found = catalogue.use_case(code)
    if element is None or found is None:
        return
    present = resource.get(element)
    concepts: list[Any] = present if isinstance(present, list) else []
    codings = [c for concept in concepts if isinstance(concept, dict) for c in concept.get("coding") or []]
    if any(isinstance(c, dict) and c.get("system") == catalogue.use_case_system for c in codings):
        return
    coding = {"system": catalogue.use_case_system, "code": found.code, "display": found.display}
    # As the IG's messages carry it: a second coding of the one category (BaRS allows one category).
    first = concepts[0] if concepts and isinstance(concepts[0], dict) else None
    if first is None:
        resource[element] = [{"coding": [coding]}, *concepts[1:]]
    else:
        resource[element] = [{**first, "coding": [*(first.get("coding") or []), coding]}, *concepts[1:]]
