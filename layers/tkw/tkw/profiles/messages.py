"""Profile validation of a whole message: which profiles apply to each resource, and the result.

Which profiles apply (as TKW's validator decides):

* every profile a resource claims in ``meta.profile`` (an unknown one is a warning saying so);
* for a message Bundle, the BaRS Bundle profile, and the profiles its MessageDefinition's ``focus``
  names for each resource type (the MessageDefinition is the one ``MessageHeader.definition`` names,
  else the one for the event when only one exists); the MessageHeader profile comes from the same place;
* UK Core's profile for every resource type that has one (base R4 otherwise).

A profile another applied profile derives from is not walked again: the derived snapshot holds all of
its rules. Repeats are collapsed, and known quirks (``quirks.yaml``) are set aside with their reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

import yaml

from tkw.profiles import fhirpath
from tkw.profiles.conformance import FHIR_CORE, Conformance, conformance
from tkw.profiles.validator import ProfileIssue, Walk

BARS_BUNDLE = "https://fhir.nhs.uk/StructureDefinition/BARSBundleMessage"
_SEVERITY_ORDER = {"error": 0, "warning": 1, "information": 2}


@dataclass(frozen=True, slots=True)
class Quirk:
    rule: str  # exact rule, or a prefix ending in "*"
    reason: str
    profile: str = ""
    element: str = ""
    expression: re.Pattern[str] | None = None
    expected: str = ""
    found: str = ""

    def matches(self, issue: ProfileIssue) -> bool:
        rule_ok = issue.rule.startswith(self.rule[:-1]) if self.rule.endswith("*") else issue.rule == self.rule
        return (
            rule_ok
            and (not self.profile or issue.profile == self.profile)
            and (not self.element or issue.element == self.element)
            and (self.expression is None or self.expression.search(issue.expression) is not None)
            and (not self.expected or issue.expected == self.expected)
            and (not self.found or issue.found == self.found)
        )


@cache
def quirks() -> tuple[Quirk, ...]:
    """The known quirks (``quirks.yaml``): findings TKW does not raise, or defects of the packages."""
    raw = yaml.safe_load(resources.files("tkw.profiles").joinpath("quirks.yaml").read_text(encoding="utf-8"))
    return tuple(
        Quirk(
            rule=q["rule"],
            reason=q["reason"],
            profile=q.get("profile", ""),
            element=q.get("element", ""),
            expression=re.compile(q["expression"]) if q.get("expression") else None,
            expected=q.get("expected", ""),
            found=q.get("found", ""),
        )
        for q in raw
    )


@cache
def message_definitions() -> tuple[dict[str, Any], ...]:
    """The BaRS MessageDefinitions the emulator ships (the scenarios' own copies: one place)."""
    folder = resources.files("tkw.scenarios").joinpath("resources", "message-definitions")
    return tuple(
        json.loads(f.read_text(encoding="utf-8"))
        for f in sorted(folder.iterdir(), key=lambda f: f.name)
        if f.name.endswith(".json")
    )


@dataclass
class ProfileReport:
    packages: str  # the package versions validated against, named in every report
    issues: list[ProfileIssue] = field(default_factory=list)
    suppressed: list[tuple[ProfileIssue, str]] = field(default_factory=list)  # (issue, quirk's reason)
    applied: list[tuple[str, list[str]]] = field(default_factory=list)  # (resource expression, profiles)

    @property
    def errors(self) -> list[ProfileIssue]:
        return [i for i in self.issues if i.severity == "error"]


def _message_definition(bundle: dict[str, Any]) -> dict[str, Any] | None:
    entries = bundle.get("entry") or []
    header = entries[0].get("resource") if entries and isinstance(entries[0], dict) else None
    if not isinstance(header, dict) or header.get("resourceType") != "MessageHeader":
        return None
    definitions = message_definitions()
    wanted = header.get("definition")
    if isinstance(wanted, str):
        for md in definitions:
            if md.get("url") == wanted.split("|")[0]:
                return md
    event = (header.get("eventCoding") or {}).get("code")
    candidates = [md for md in definitions if md.get("eventCoding", {}).get("code") == event]
    if len(candidates) == 1:
        return candidates[0]
    # Several definitions share the event: only what they all agree on (the MessageHeader profile) applies.
    if candidates:
        shared = {
            (f["code"], f["profile"])
            for f in candidates[0].get("focus", [])
            if all(any(g == f for g in md.get("focus", [])) for md in candidates[1:])
        }
        return {"focus": [{"code": c, "profile": p} for c, p in sorted(shared)]}
    return None


def _claimed(resource: dict[str, Any]) -> list[str]:
    meta = resource.get("meta")
    profiles = meta.get("profile") if isinstance(meta, dict) else None
    return [p for p in profiles if isinstance(p, str)] if isinstance(profiles, list) else []


def _resources(
    body: dict[str, Any], expr: str, in_message: bool = False
) -> Iterator[tuple[dict[str, Any], str, bool, dict[str, Any]]]:
    """(resource, FHIRPath, is an entry of a message Bundle, the resource containing it or itself)
    for the body and every resource in it."""
    yield body, expr, in_message, body
    for i, contained in enumerate(body.get("contained") or []):
        if isinstance(contained, dict) and isinstance(contained.get("resourceType"), str):
            yield contained, f"{expr}.contained[{i}]", in_message, body
    if body.get("resourceType") == "Bundle":
        message = body.get("type") == "message"
        for i, entry in enumerate(body.get("entry") or []):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
                yield from _resources(resource, f"{expr}.entry[{i}].resource", message)


def _references(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    refs: dict[str, dict[str, Any]] = {}
    stack = [body]
    while stack:
        bundle = stack.pop()
        for entry in bundle.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                continue
            if isinstance(entry.get("fullUrl"), str):
                refs[entry["fullUrl"]] = resource
            if isinstance(resource.get("id"), str):
                refs[f"{resource.get('resourceType')}/{resource['id']}"] = resource
            if resource.get("resourceType") == "Bundle":
                stack.append(resource)
    return refs


def _profiles_for(
    conf: Conformance, resource: dict[str, Any], focus: dict[str, str], in_message: bool, top: bool
) -> tuple[list[str], list[str]]:
    """(profiles to walk, claimed profiles that are not shipped)."""
    resource_type = resource["resourceType"]
    claimed = _claimed(resource)
    unknown = [p for p in claimed if conf.profile(p) is None]
    wanted = [p.split("|")[0] for p in claimed if p not in unknown]
    if top and resource_type == "Bundle" and resource.get("type") == "message":
        wanted.append(BARS_BUNDLE)
    if (
        in_message
        and resource_type in focus
        and not any(p != focus[resource_type] and not conf.derives_from(focus[resource_type], p) for p in wanted)
    ):
        # The MessageDefinition's profile for this resource, unless the resource claims a different
        # profile of its own (SERVREQ01 cancels a validation request with the validation
        # ServiceRequest profile, where the cancellation MessageDefinition names the referral one).
        wanted.append(focus[resource_type])
    if resource_type in conf.uk_core_by_type:
        wanted.append(conf.uk_core_by_type[resource_type])
    wanted = [
        p for p in dict.fromkeys(wanted) if (found := conf.profile(p)) is not None and found.type == resource_type
    ]
    # Claimed profiles of another type are walked anyway (they fail with a clear type mismatch).
    wanted += [p for p in claimed if p not in unknown and p not in wanted]
    kept = [p for p in wanted if not any(q != p and conf.derives_from(q, p) for q in wanted)]
    return (kept or [FHIR_CORE + resource_type]), unknown


def validate_body(body: Any, conf: Conformance | None = None) -> ProfileReport:
    """Profile-validate a FHIR JSON body (a message Bundle, a searchset, or one resource), against
    the shipped packages unless ``conf`` names others."""
    conf = conf or conformance()
    report = ProfileReport(packages=conf.versions)
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        return report
    root_type = body["resourceType"]
    references = _references(body)
    focus: dict[str, str] = {}
    if root_type == "Bundle" and body.get("type") == "message":
        md = _message_definition(body)
        focus = {f["code"]: f["profile"] for f in (md or {}).get("focus", []) if f.get("profile")}
    found: list[ProfileIssue] = []
    with fhirpath.scoped(fhirpath.Scope(references=references)):
        for resource, expr, in_message, container in _resources(body, root_type):
            if conf.base_type(resource["resourceType"]) is None:
                continue  # an unknown resource type: base structure validation reports it
            profiles, unknown = _profiles_for(conf, resource, focus, in_message, resource is body)
            for url in unknown:
                found.append(
                    ProfileIssue(
                        severity="warning",
                        code="not-found",
                        rule="profile-unknown",
                        expression=f"{expr}.meta.profile",
                        message=f"The claimed profile {url} is not in the shipped packages ({conf.versions}); "
                        "the resource is validated against the profiles that are",
                        profile=url,
                        found=url,
                        resource=f"{expr} ({resource['resourceType']})",
                    )
                )
            report.applied.append((expr, profiles))
            for url in profiles:
                profile = conf.profile(url)
                if profile is not None:
                    found.extend(Walk(conf, resource, container, references, profile).run(expr))
    _collapse(found, report)
    return report


def _collapse(found: list[ProfileIssue], report: ProfileReport) -> None:
    """Drop exact repeats (the same place and rule seen through two profiles), fold notes that repeat
    at many places (a SNOMED CT binding on every coding) into one, and set known quirks aside."""
    seen: set[tuple[str, str, str, str]] = set()
    kept: list[ProfileIssue] = []
    notes: dict[tuple[str, str, str, str], list[ProfileIssue]] = {}
    for issue in sorted(found, key=lambda i: _SEVERITY_ORDER[i.severity]):
        key = (issue.severity, issue.rule, issue.expression, issue.message)
        if key in seen:
            continue
        seen.add(key)
        quirk = next((q for q in quirks() if q.matches(issue)), None)
        if quirk is not None:
            report.suppressed.append((issue, quirk.reason))
        elif issue.severity == "information":
            notes.setdefault((issue.rule, issue.profile, issue.element, issue.expected), []).append(issue)
        else:
            kept.append(issue)
    for same in notes.values():
        first = same[0]
        if len(same) > 1:
            others = ", ".join(i.expression for i in same[1:4]) + (", …" if len(same) > 4 else "")
            first = replace(first, message=f"{first.message} (also at {len(same) - 1} more: {others})")
        kept.append(first)
    report.issues.extend(kept)
