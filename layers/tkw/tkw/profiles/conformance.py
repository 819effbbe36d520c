"""The shipped conformance resources, loaded once per worker and indexed for the validator.

``data/conformance.json.gz`` is written by ``tkw.profiles.build`` (``make profiles``). Each profile's
elements are indexed lazily, the first time a message needs that profile.
"""

from __future__ import annotations

import gc
import gzip
import json
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from typing import Any

FHIR_CORE = "http://hl7.org/fhir/StructureDefinition/"
UK_CORE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"


@dataclass(slots=True)
class ElementDef:
    """One snapshot element, reduced to what validation reads."""

    id: str
    path: str
    name: str  # last path segment, e.g. "event[x]"
    slice_name: str | None
    min: int
    max: int | None  # None: unbounded
    types: list[dict[str, Any]]
    fixed: tuple[str, Any] | None  # (FHIR type suffix, value)
    pattern: tuple[str, Any] | None
    binding: dict[str, str] | None
    slicing: dict[str, Any] | None
    constraints: list[dict[str, Any]]
    content_reference: str | None
    max_length: int | None
    children: list[ElementDef] = field(default_factory=list)
    slices: list[ElementDef] = field(default_factory=list)
    is_choice: bool = False
    json_name: str = ""  # the JSON property: "event" for "event[x]"
    type_codes: list[str] = field(default_factory=list)
    profiles: tuple[str, ...] = ()  # type profiles (e.g. an extension's definition)
    targets: tuple[str, ...] = ()  # target profiles of a Reference
    _named: dict[str, ElementDef | None] | None = None  # JSON property -> child, filled as met

    def __post_init__(self) -> None:
        self.is_choice = self.name.endswith("[x]")
        self.json_name = self.name[:-3] if self.is_choice else self.name
        self.type_codes = [t["code"] for t in self.types]
        self.profiles = tuple(p for t in self.types for p in t.get("profile", []))
        self.targets = tuple(p for t in self.types for p in t.get("targetProfile", []))

    def child_named(self, key: str) -> ElementDef | None:
        """The child definition of a JSON property (``valueQuantity`` -> ``value[x]``; ``_status`` -> ``status``)."""
        if self._named is None:
            self._named = {}
        if key in self._named:
            return self._named[key]
        name = key[1:] if key.startswith("_") else key
        found = None
        for child in self.children:
            json_name = child.json_name
            if name == json_name and not child.is_choice:
                found = child
                break
            if child.is_choice and name.startswith(json_name) and name[len(json_name) : len(json_name) + 1].isupper():
                found = child
                break
        self._named[key] = found
        return found

    def type_profiles(self) -> tuple[str, ...]:
        return self.profiles

    def target_profiles(self) -> tuple[str, ...]:
        return self.targets


def _value_key(raw: dict[str, Any], prefix: str) -> tuple[str, Any] | None:
    for key, value in raw.items():
        if key.startswith(prefix) and len(key) > len(prefix) and key[len(prefix)].isupper():
            return key[len(prefix) :], value
    return None


def _split_id(element_id: str) -> tuple[str, str, str | None]:
    """``"A.b:s.c:t"`` -> (parent id ``"A.b:s"``, name ``"c"``, slice ``"t"``)."""
    parent, _, last = element_id.rpartition(".")
    name, _, slice_name = last.partition(":")
    return parent, name, slice_name or None


class Profile:
    """A StructureDefinition snapshot with its element tree."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.url: str = raw["url"]
        self.name: str = raw["name"]
        self.version: str = raw["version"]
        self.type: str = raw["type"]
        self.kind: str = raw["kind"]
        self.derivation: str = raw["derivation"]
        self.base_definition: str = raw["baseDefinition"]
        self.package: str = raw["package"]
        self.context: list[dict[str, str]] = raw.get("context", [])
        self._raw_elements: list[dict[str, Any]] = raw["elements"]

    @cached_property
    def elements(self) -> dict[str, ElementDef]:
        by_id: dict[str, ElementDef] = {}
        for raw in self._raw_elements:
            element_id = raw["id"]
            parent_id, name, slice_name = _split_id(element_id)
            max_raw = raw.get("max", "*")
            element = ElementDef(
                id=element_id,
                path=raw["path"],
                name=name,
                slice_name=slice_name if parent_id else None,
                min=int(raw.get("min", 0)),
                max=None if max_raw == "*" else int(max_raw),
                types=raw.get("type", []),
                fixed=_value_key(raw, "fixed"),
                pattern=_value_key(raw, "pattern"),
                binding=raw.get("binding"),
                slicing=raw.get("slicing"),
                constraints=raw.get("constraint", []),
                content_reference=raw.get("contentReference"),
                max_length=raw.get("maxLength"),
            )
            by_id[element_id] = element
            if not parent_id:
                continue
            if slice_name:
                base = by_id.get(f"{parent_id}.{name}")
                if base is not None:
                    base.slices.append(element)
                continue
            parent = by_id.get(parent_id)
            if parent is not None:
                parent.children.append(element)
        return by_id

    @property
    def root(self) -> ElementDef:
        return self.elements[self._raw_elements[0]["id"]]

    def element(self, element_id: str) -> ElementDef | None:
        return self.elements.get(element_id)


@dataclass(frozen=True, slots=True)
class ValueSetCodes:
    url: str
    version: str
    systems: dict[str, frozenset[str] | None]  # None: not enumerable offline
    unchecked: dict[str, str]  # system (or "*") -> why it cannot be checked offline


class Conformance:
    """Profiles, flattened ValueSets and CodeSystem code lists, by canonical url."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.packages: list[dict[str, str]] = data["packages"]
        self._raw_profiles: dict[str, dict[str, Any]] = data["profiles"]
        self._profiles: dict[str, Profile] = {}
        self._raw_value_sets: dict[str, dict[str, Any]] = data["value_sets"]
        self._value_sets: dict[str, ValueSetCodes] = {}
        self.code_systems: dict[str, dict[str, Any]] = data["code_systems"]
        self._code_sets: dict[str, frozenset[str]] = {}
        self.resource_types: frozenset[str] = frozenset(
            p["type"]
            for url, p in self._raw_profiles.items()
            if url.startswith(FHIR_CORE) and p["kind"] == "resource" and p["derivation"] == "specialization"
        )
        # UK Core's profile of each resource type ("the UK Core profile applies to every resource").
        self.uk_core_by_type: dict[str, str] = {
            p["type"]: url
            for url, p in self._raw_profiles.items()
            if url == UK_CORE + p["type"] and p["kind"] == "resource"
        }

    @property
    def versions(self) -> str:
        return ", ".join(f"{p['name']}#{p['version']}" for p in self.packages)

    def profile(self, url: str) -> Profile | None:
        url = url.split("|")[0]
        found = self._profiles.get(url)
        if found is None:
            raw = self._raw_profiles.get(url)
            if raw is None:
                return None
            found = self._profiles[url] = Profile(raw)
        return found

    def base_type(self, type_code: str) -> Profile | None:
        return self.profile(FHIR_CORE + type_code)

    def derives_from(self, url: str, ancestor: str) -> bool:
        seen: set[str] = set()
        while url and url not in seen:
            if url == ancestor:
                return True
            seen.add(url)
            raw = self._raw_profiles.get(url)
            url = raw["baseDefinition"] if raw else ""
        return False

    def value_set(self, url: str) -> ValueSetCodes | None:
        url = url.split("|")[0]
        found = self._value_sets.get(url)
        if found is None:
            raw = self._raw_value_sets.get(url)
            if raw is None:
                return None
            found = self._value_sets[url] = ValueSetCodes(
                url=url,
                version=raw["version"],
                systems={s: None if c is None else frozenset(c) for s, c in raw["systems"].items()},
                unchecked=raw["unchecked"],
            )
        return found

    def code_system_codes(self, url: str) -> frozenset[str] | None:
        """Every code of a shipped CodeSystem whose content is complete, else None."""
        found = self._code_sets.get(url)
        if found is None:
            raw = self.code_systems.get(url)
            if raw is None:
                return None
            found = self._code_sets[url] = frozenset(raw["codes"])
        return found


@cache
def conformance() -> Conformance:
    """The shipped packages, parsed once per worker."""
    blob = resources.files("tkw.profiles").joinpath("data/conformance.json.gz").read_bytes()
    loaded = Conformance(json.loads(gzip.decompress(blob)))
    # Millions of objects that live as long as the process: out of the collector's way, or every
    # full collection walks them again (measured: several ms per report).
    gc.freeze()
    return loaded
