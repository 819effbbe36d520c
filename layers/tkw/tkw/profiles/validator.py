"""Walking one resource against one StructureDefinition snapshot.

What is checked, in the order HAPI's instance validator checks it: elements the profile does not
define, cardinality, choice types, fixed and pattern values, required and extensible bindings,
codes of shipped CodeSystems, slicing (value, pattern, type, profile and exists discriminators; closed
slicing; slice cardinality), extensions against their own definitions, reference target types, string
lengths, and FHIRPath invariants. Where a profile's snapshot does not expand a data type, the data
type's own definition (or the type profile it names) is walked instead.

A walk only records :class:`ProfileIssue` s; choosing profiles, collapsing repeats and suppressing
known quirks happen in :mod:`tkw.profiles.messages`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from tkw.profiles import fhirpath
from tkw.profiles.conformance import Conformance, ElementDef, Profile

IssueSeverity = Literal["error", "warning", "information"]

# FHIR primitive types (JSON scalars, with an optional "_name" sibling for id/extensions).
PRIMITIVES = frozenset(
    {
        "base64Binary",
        "boolean",
        "canonical",
        "code",
        "date",
        "dateTime",
        "decimal",
        "id",
        "instant",
        "integer",
        "markdown",
        "oid",
        "positiveInt",
        "string",
        "time",
        "unsignedInt",
        "uri",
        "url",
        "uuid",
        "xhtml",
    }
)
_CODE_LIKE = frozenset({"code", "string", "uri", "url", "canonical"})
# Invariants the validator checks natively: ele-1 on every element (no empty objects) and ext-1.
_NATIVE = frozenset({"ele-1", "ext-1"})


@dataclass(frozen=True, slots=True)
class ProfileIssue:
    severity: IssueSeverity
    code: str  # HL7 IssueType: structure, required, value, code-invalid, invariant, informational, ...
    rule: str  # what kind of rule: cardinality, fixed, pattern, binding, slicing, extension, invariant:<key>, ...
    expression: str  # FHIRPath to the element, e.g. Bundle.entry[3].resource.intent
    message: str
    profile: str = ""  # canonical url of the profile that demanded it
    element: str = ""  # element id in that profile
    expected: str = ""
    found: str = ""
    resource: str = ""  # which resource of the message, e.g. "Bundle.entry[3].resource (ServiceRequest)"

    def describe(self) -> str:
        """The message with what was expected and found, and the rule's profile and element."""
        text = self.message.rstrip(".")
        if self.expected or self.found:
            text += f"; expected {self.expected or 'see the rule'}, found {self.found or 'nothing'}"
        if self.profile:
            text += f" (profile {self.profile}" + (f", element {self.element})" if self.element else ")")
        return text + "."


def _show(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def matches_pattern(value: Any, pattern: Any) -> bool:
    """FHIR pattern[x]: every property the pattern has, the value has (lists: each pattern item matched)."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and matches_pattern(value[k], p) for k, p in pattern.items())
    if isinstance(pattern, list):
        return isinstance(value, list) and all(any(matches_pattern(v, p) for v in value) for p in pattern)
    return bool(value == pattern)


def choice_values(node: dict[str, Any], element: ElementDef) -> list[tuple[str, Any]]:
    """(type, value) of every ``name<Type>`` key of a choice element present in ``node``."""
    base = element.json_name
    found = []
    for key, value in node.items():
        if key.startswith(base) and len(key) > len(base) and key[len(base)].isupper():
            suffix = key[len(base) :]
            # Primitive type names are lower case in FHIR: valueString -> string, valueQuantity -> Quantity.
            type_name = suffix[0].lower() + suffix[1:]
            found.append((type_name if type_name in PRIMITIVES else suffix, value))
    return found


_FALLBACKS: dict[tuple[str, str | None, tuple[str, ...]], Profile | None] = {}


class Walk:
    """One profile walk over one resource. ``issues`` collects what it found."""

    def __init__(
        self,
        conf: Conformance,
        resource: dict[str, Any],
        root: dict[str, Any],
        references: dict[str, dict[str, Any]],
        profile: Profile,
    ) -> None:
        self.conf = conf
        self.resource = resource
        self.root = root
        self.references = references
        self.profile = profile
        self.issues: list[ProfileIssue] = []
        self.resource_label = ""

    def _is_resource_type(self, type_code: str) -> bool:
        return type_code in ("Resource", "DomainResource") or type_code in self.conf.resource_types

    # -- recording ------------------------------------------------------------------------------

    def _add(
        self,
        severity: IssueSeverity,
        code: str,
        rule: str,
        expression: str,
        message: str,
        element: ElementDef | None,
        profile: Profile,
        expected: Any = "",
        found: Any = "",
    ) -> None:
        self.issues.append(
            ProfileIssue(
                severity=severity,
                code=code,
                rule=rule,
                expression=expression,
                message=message,
                profile=profile.url,
                element=element.id if element else "",
                expected=_show(expected) if expected != "" else "",
                found=_show(found) if found != "" else "",
                resource=self.resource_label,
            )
        )

    # -- entry point ----------------------------------------------------------------------------

    def run(self, expression: str) -> list[ProfileIssue]:
        resource_type = self.resource.get("resourceType")
        self.resource_label = f"{expression} ({resource_type})"
        if resource_type != self.profile.type:
            self._add(
                "error",
                "structure",
                "profile-type",
                expression,
                f"The profile is for {self.profile.type}, the resource is a {resource_type}",
                self.profile.root,
                self.profile,
                self.profile.type,
                resource_type,
            )
            return self.issues
        self.complex(self.resource, self.profile, self.profile.root, expression, self.profile.type)
        return self.issues

    # -- complex values -------------------------------------------------------------------------

    def _children_of(self, profile: Profile, element: ElementDef) -> list[ElementDef]:
        if element.content_reference:
            target = profile.element(element.content_reference.split("#", 1)[-1])
            return target.children if target else []
        return element.children

    def _fallback(self, element: ElementDef, type_code: str, url: str | None) -> Profile | None:
        """The definition to walk when the profile does not expand this element's children."""
        key = (type_code, url, element.profiles)
        if key not in _FALLBACKS:
            _FALLBACKS[key] = self._find_fallback(element, type_code, url)
        return _FALLBACKS[key]

    def _find_fallback(self, element: ElementDef, type_code: str, url: str | None) -> Profile | None:
        for candidate in element.type_profiles():
            found = self.conf.profile(candidate)
            if found is not None and found.type == type_code:
                return found
        if type_code == "Extension" and url:
            found = self.conf.profile(url)
            if found is not None:
                return found
        return self.conf.base_type(type_code)

    def complex(self, node: dict[str, Any], profile: Profile, element: ElementDef, expr: str, type_code: str) -> None:
        if not node:
            self._add(
                "error",
                "structure",
                "invariant:ele-1",
                expr,
                "An element must have a value or children (ele-1); this one is empty",
                element,
                profile,
            )
            return
        run_keys = self._invariants(node, profile, element, expr, type_code, set())
        children = self._children_of(profile, element)
        if not children:
            url = node.get("url") if type_code == "Extension" else None
            target = self._fallback(element, type_code, url)
            if target is None or (target is profile and element is target.root):
                return
            generic = target.url == "http://hl7.org/fhir/StructureDefinition/Extension"
            if type_code == "Extension" and url and generic and not element.type_profiles():
                self._add(
                    "warning",
                    "structure",
                    "extension-unknown",
                    expr,
                    f"The extension {url} is not defined in the shipped packages, so its content cannot be checked",
                    element,
                    profile,
                    found=url,
                )
            self._invariants(node, target, target.root, expr, type_code, run_keys)
            self._walk_children(node, target, target.root, self._children_of(target, target.root), expr, type_code)
            return
        if "." in element.id and not self._is_resource_type(type_code):
            base = self.conf.base_type(type_code)
            if base is not None and type_code not in ("BackboneElement", "Element"):
                self._invariants(node, base, base.root, expr, type_code, run_keys)
        self._walk_children(node, profile, element, children, expr, type_code)

    def _walk_children(
        self,
        node: dict[str, Any],
        profile: Profile,
        element: ElementDef,
        children: list[ElementDef],
        expr: str,
        type_code: str,
    ) -> None:
        holder = element
        if element.content_reference:
            holder = profile.element(element.content_reference.split("#", 1)[-1]) or element
        if type_code == "Extension" and ("extension" in node) == any(k.startswith("value") for k in node):
            self._add(
                "error",
                "invariant",
                "invariant:ext-1",
                expr,
                "An extension must have either extensions or a value[x], not both and not neither (ext-1)",
                element,
                profile,
            )
        present: set[str] = set()
        at_root = element is profile.root and profile.kind == "resource"
        for key in node:
            child = holder.child_named(key)
            if child is not None:
                present.add(child.id)
            elif not (at_root and key == "resourceType"):
                self._add(
                    "error",
                    "structure",
                    "unknown-element",
                    f"{expr}.{key}",
                    f"'{key}' is not an element of {profile.type} as defined by {profile.name}",
                    element,
                    profile,
                    found=key,
                )
        for child in children:
            if child.min or child.id in present:
                self._child(node, profile, child, expr)

    def _child(self, node: dict[str, Any], profile: Profile, child: ElementDef, expr: str) -> None:
        items: list[tuple[str, Any, Any, str]] = []  # (type, value, primitive extension node, json key)
        if child.is_choice:
            for type_name, value in choice_values(node, child):
                key = child.json_name + type_name[0].upper() + type_name[1:]
                items.append((type_name, value, node.get("_" + key), key))
        elif child.name in node or "_" + child.name in node:
            type_name = child.type_codes[0] if child.type_codes else "Element"
            raw = node.get(child.name)
            ext = node.get("_" + child.name)
            if isinstance(raw, list) or isinstance(ext, list):
                values = raw if isinstance(raw, list) else [None] * len(ext or [])
                exts = ext if isinstance(ext, list) else [None] * len(values)
                for i, value in enumerate(values):
                    items.append((type_name, value, exts[i] if i < len(exts) else None, f"{child.name}[{i}]"))
            else:
                items.append((type_name, raw, ext, child.name))
        self._cardinality(len(items), child, profile, f"{expr}.{child.json_name}", "cardinality", child.path)
        if not items:
            return
        assigned: list[ElementDef | None] = [None] * len(items)
        if child.slices:
            assigned = self._slice(items, profile, child, expr)
        for (type_name, value, ext, key), slice_def in zip(items, assigned, strict=True):
            item_expr = f"{expr}.{key}"
            if child.is_choice:
                item_expr = f"{expr}.{child.json_name}.ofType({type_name})"
            self.value(value, ext, type_name, profile, slice_def or child, item_expr)

    # -- one value ------------------------------------------------------------------------------

    def value(self, value: Any, ext: Any, type_code: str, profile: Profile, element: ElementDef, expr: str) -> None:
        allowed = element.type_codes
        if element.is_choice and allowed and type_code not in allowed:
            self._add(
                "error",
                "structure",
                "type",
                expr,
                f"{element.path} does not allow the type {type_code}",
                element,
                profile,
                " | ".join(allowed),
                type_code,
            )
            return
        if self._is_resource_type(type_code):
            return  # contained and Bundle resources are validated on their own
        if value is not None:
            self._fixed_and_pattern(value, profile, element, expr)
            if element.binding:
                self._binding(value, type_code, profile, element, expr)
            if element.max_length is not None and isinstance(value, str) and len(value) > element.max_length:
                self._add(
                    "error",
                    "value",
                    "max-length",
                    expr,
                    f"{element.path} is longer than {element.max_length} characters",
                    element,
                    profile,
                    f"<= {element.max_length}",
                    len(value),
                )
        if isinstance(value, dict):
            self.complex(value, profile, element, expr, type_code)
            if type_code == "Coding":
                self._code_system(value, profile, element, expr)
            elif type_code == "Reference":
                self._reference(value, profile, element, expr)
        elif value is not None and type_code in PRIMITIVES:
            self._invariants(value, profile, element, expr, type_code, set(_NATIVE))
        if isinstance(ext, dict):
            base = self.conf.base_type("Element")
            if base is not None:
                self._walk_children(ext, base, base.root, base.root.children, expr, "Element")

    def _fixed_and_pattern(self, value: Any, profile: Profile, element: ElementDef, expr: str) -> None:
        if element.fixed is not None and value != element.fixed[1]:
            self._add(
                "error",
                "value",
                "fixed",
                expr,
                f"{element.path} must be exactly {_show(element.fixed[1])}",
                element,
                profile,
                element.fixed[1],
                value,
            )
        if element.pattern is not None and not matches_pattern(value, element.pattern[1]):
            self._add(
                "error",
                "value",
                "pattern",
                expr,
                f"{element.path} must match the pattern {_show(element.pattern[1])}",
                element,
                profile,
                element.pattern[1],
                value,
            )

    # -- terminology ----------------------------------------------------------------------------

    def _binding(self, value: Any, type_code: str, profile: Profile, element: ElementDef, expr: str) -> None:
        assert element.binding is not None
        strength = element.binding["strength"]
        url = element.binding["valueSet"]
        codings: list[tuple[str | None, Any]]  # system None: a bare code, matched in any system
        if type_code in _CODE_LIKE and isinstance(value, str):
            codings = [(None, value)]
        elif type_code in ("Coding", "Quantity") and isinstance(value, dict):
            if "code" not in value:
                return
            codings = [(value.get("system", ""), value.get("code"))]
        elif type_code == "CodeableConcept" and isinstance(value, dict):
            # A coding without a system ("") matches no ValueSet system: its code has no defined meaning.
            codings = [(c.get("system", ""), c.get("code")) for c in value.get("coding", []) if isinstance(c, dict)]
            if not codings:
                if strength == "required":
                    self._add(
                        "error",
                        "code-invalid",
                        "binding",
                        expr,
                        f"{element.path} has no coding, and one from the required ValueSet {url} is needed",
                        element,
                        profile,
                        url,
                        value,
                    )
                return
        else:
            return
        vs = self.conf.value_set(url)
        if vs is None:
            self._add(
                "information",
                "informational",
                "binding-unchecked",
                expr,
                f"The {strength} binding of {element.path} to {url} cannot be checked offline: that "
                "ValueSet is not in the shipped packages",
                element,
                profile,
                url,
            )
            return
        unchecked: list[str] = []
        for system, code in codings:
            for vs_system, codes in vs.systems.items():
                if system is not None and system != vs_system:
                    continue
                if codes is None:
                    unchecked.append(vs.unchecked.get(vs_system, vs_system))
                elif code in codes:
                    return
        found = ", ".join(f"{s}|{c}" if s else str(c) for s, c in codings)
        if unchecked or "*" in vs.unchecked:
            reason = unchecked[0] if unchecked else vs.unchecked["*"]
            self._add(
                "information",
                "informational",
                "binding-unchecked",
                expr,
                f"The {strength} binding of {element.path} to {url} cannot be checked offline ({reason})",
                element,
                profile,
                url,
                found,
            )
            return
        if strength == "required":
            self._add(
                "error",
                "code-invalid",
                "binding",
                expr,
                f"{element.path}: {found} is not in the required ValueSet {url}",
                element,
                profile,
                url,
                found,
            )
        else:
            self._add(
                "warning",
                "code-invalid",
                "binding-extensible",
                expr,
                f"{element.path}: {found} is not in the extensible ValueSet {url} (use it when a code fits)",
                element,
                profile,
                url,
                found,
            )

    def _code_system(self, coding: dict[str, Any], profile: Profile, element: ElementDef, expr: str) -> None:
        system, code = coding.get("system"), coding.get("code")
        if not isinstance(system, str) or not isinstance(code, str):
            return
        codes = self.conf.code_system_codes(system)
        if codes is None:
            return
        if code in codes:
            return
        if not self.conf.code_systems[system].get("caseSensitive", True) and code.lower() in {c.lower() for c in codes}:
            return
        self._add(
            "error",
            "code-invalid",
            "code-system",
            f"{expr}.code",
            f"'{code}' is not a code of the CodeSystem {system}",
            element,
            profile,
            system,
            code,
        )

    # -- references -----------------------------------------------------------------------------

    def _reference(self, value: dict[str, Any], profile: Profile, element: ElementDef, expr: str) -> None:
        ref = value.get("reference")
        if not isinstance(ref, str) or ref.startswith("#"):
            return
        target = self.references.get(ref)
        if target is not None:
            found_type = target.get("resourceType")
        else:
            parts = ref.split("/")
            # A literal "Type/id" (or ".../Type/id") names its type even when the target is not in the Bundle.
            if len(parts) >= 2 and parts[-2] in self.conf.resource_types:
                found_type = parts[-2]
            else:
                return
        allowed: set[str] = set()
        for url in element.target_profiles():
            target_profile = self.conf.profile(url)
            allowed.add(target_profile.type if target_profile else url.rsplit("/", 1)[-1].removeprefix("UKCore-"))
        if not allowed or "Resource" in allowed or found_type in allowed:
            return
        self._add(
            "error",
            "structure",
            "reference-target",
            f"{expr}.reference",
            f"{element.path} may refer to {' | '.join(sorted(allowed))}, not {found_type}",
            element,
            profile,
            " | ".join(sorted(allowed)),
            found_type,
        )

    # -- invariants -----------------------------------------------------------------------------

    def _invariants(
        self, node: Any, profile: Profile, element: ElementDef, expr: str, type_code: str, done: set[str]
    ) -> set[str]:
        for constraint in element.constraints:
            key = constraint["key"]
            if key in _NATIVE or key in done:
                continue
            done.add(key)
            type_name = element.path if type_code in ("BackboneElement", "Element") else type_code
            verdict = fhirpath.holds(constraint["expression"], node, type_name, self.resource, self.root)
            if verdict is None:
                self._add(
                    "information",
                    "informational",
                    f"invariant-unchecked:{key}",
                    expr,
                    f"The invariant {key} could not be evaluated: {constraint['expression']}",
                    element,
                    profile,
                )
            elif not verdict:
                self._add(
                    constraint["severity"],
                    "invariant",
                    f"invariant:{key}",
                    expr,
                    f"{key}: {constraint['human']}",
                    element,
                    profile,
                    constraint["expression"],
                )
        return done

    # -- slicing --------------------------------------------------------------------------------

    def _slice(
        self, items: list[tuple[str, Any, Any, str]], profile: Profile, base: ElementDef, expr: str
    ) -> list[ElementDef | None]:
        slicing = base.slicing or {"discriminator": [], "rules": "open"}
        discriminators = slicing.get("discriminator", [])
        assigned: list[ElementDef | None] = []
        for type_name, value, _ext, key in items:
            match = None
            for slice_def in base.slices:
                if discriminators and all(
                    self._discriminated(value, type_name, profile, slice_def, d) for d in discriminators
                ):
                    match = slice_def
                    break
            assigned.append(match)
            if match is None and slicing.get("rules") == "closed":
                self._add(
                    "error",
                    "structure",
                    "slicing-closed",
                    f"{expr}.{key}",
                    f"{base.path} is closed to the slices "
                    f"{', '.join(s.slice_name or '' for s in base.slices)}; this item matches none",
                    base,
                    profile,
                    ", ".join(s.slice_name or "" for s in base.slices),
                    value,
                )
        for slice_def in base.slices:
            self._cardinality(
                sum(1 for a in assigned if a is slice_def),
                slice_def,
                profile,
                f"{expr}.{base.json_name}:{slice_def.slice_name}",
                "slice-cardinality",
                f"Slice {slice_def.slice_name} of {base.path}",
            )
        return assigned

    def _cardinality(self, count: int, element: ElementDef, profile: Profile, where: str, rule: str, what: str) -> None:
        if count < element.min:
            self._add(
                "error",
                "required",
                rule,
                where,
                f"{what} is required: minimum {element.min}, found {count}",
                element,
                profile,
                f"min {element.min}",
                count,
            )
        if element.max is not None and count > element.max:
            self._add(
                "error",
                "structure",
                rule,
                where,
                f"{what} allows at most {element.max}, found {count}",
                element,
                profile,
                f"max {element.max}",
                count,
            )

    def _sub_definition(self, profile: Profile, element: ElementDef, path: list[str]) -> tuple[Profile, ElementDef]:
        current_profile, current = profile, element
        for part in path:
            children = self._children_of(current_profile, current)
            if not children:
                type_code = current.type_codes[0] if current.type_codes else ""
                fallback = self._fallback(current, type_code, None)
                if fallback is None:
                    raise LookupError(part)
                current_profile, current = fallback, fallback.root
                children = self._children_of(current_profile, current)
            name = part.split("(")[0]
            found = next((c for c in children if c.json_name == name), None)
            if found is None:
                raise LookupError(part)
            current = found
        return current_profile, current

    def _values_at(self, value: Any, path: list[str]) -> list[tuple[str | None, Any]]:
        """(type, value) pairs reached by a discriminator path (with resolve() and ofType())."""
        current: list[tuple[str | None, Any]] = [(None, value)]
        for part in path:
            nxt: list[tuple[str | None, Any]] = []
            for _t, v in current:
                if part == "resolve()":
                    ref = v.get("reference") if isinstance(v, dict) else None
                    if isinstance(ref, str) and ref in self.references:
                        target = self.references[ref]
                        nxt.append((target.get("resourceType"), target))
                    continue
                if part.startswith("ofType("):
                    nxt.append((part[7:-1], v))
                    continue
                if not isinstance(v, dict):
                    continue
                if part.startswith("extension("):
                    url = part[len("extension(") : -1].strip("'\"")
                    nxt.extend(("Extension", e) for e in v.get("extension", []) if e.get("url") == url)
                    continue
                if part in v:
                    raw = v[part]
                    nxt.extend((None, x) for x in (raw if isinstance(raw, list) else [raw]))
                else:
                    for key, raw in v.items():  # a choice element named without [x]
                        if key.startswith(part) and len(key) > len(part) and key[len(part)].isupper():
                            nxt.append((key[len(part) :], raw))
            current = nxt
        return current

    def _discriminated(
        self, value: Any, type_name: str, profile: Profile, slice_def: ElementDef, discriminator: dict[str, str]
    ) -> bool:
        kind = discriminator.get("type")
        raw_path = discriminator.get("path", "$this")
        path = [] if raw_path == "$this" else _split_path(raw_path)
        definition_path = [p for p in path if p != "resolve()" and not p.startswith(("ofType(", "extension("))]
        reached = self._values_at(value, path)
        if kind == "exists":
            try:
                _p, sub = self._sub_definition(profile, slice_def, definition_path)
            except LookupError:
                return False
            return bool(reached) if sub.min > 0 else (not reached if sub.max == 0 else True)
        if kind in ("value", "pattern"):
            expected = self._discriminator_value(profile, slice_def, definition_path, raw_path)
            if expected is None:
                return False
            how, want = expected
            if how == "fixed":
                return any(v == want for _t, v in reached)
            return any(matches_pattern(v, want) for _t, v in reached)
        if kind == "type":
            try:
                _p, sub = self._sub_definition(profile, slice_def, definition_path)
            except LookupError:
                return False
            wanted = set(sub.type_codes)
            for t, v in reached:
                actual = v.get("resourceType") if isinstance(v, dict) and "resourceType" in v else (t or type_name)
                if actual in wanted:
                    return True
            return False
        if kind == "profile":
            try:
                _p, sub = self._sub_definition(profile, slice_def, definition_path)
            except LookupError:
                return False
            urls = sub.target_profiles() if "resolve()" in path else sub.type_profiles()
            for url in urls:
                target = self.conf.profile(url)
                if target is None:
                    continue
                for _t, v in reached:
                    if isinstance(v, dict) and self._conforms(v, target, type_name):
                        return True
            return False
        return False

    def _discriminator_value(
        self, profile: Profile, slice_def: ElementDef, path: list[str], raw_path: str
    ) -> tuple[str, Any] | None:
        try:
            _p, sub = self._sub_definition(profile, slice_def, path)
        except LookupError:
            sub = None
        if sub is not None and sub.fixed is not None:
            return "fixed", sub.fixed[1]
        if sub is not None and sub.pattern is not None:
            return "pattern", sub.pattern[1]
        # Extension slices name their extension by type profile; its url is that profile's url.
        if raw_path == "url" and slice_def.type_profiles():
            return "fixed", slice_def.type_profiles()[0]
        return None

    def _conforms(self, value: dict[str, Any], target: Profile, type_name: str) -> bool:
        if "resourceType" in value:
            walk = Walk(self.conf, value, self.root, self.references, target)
            return not any(i.severity == "error" for i in walk.run("$"))
        walk = Walk(self.conf, self.resource, self.root, self.references, target)
        walk.complex(value, target, target.root, "$", type_name)
        return not any(i.severity == "error" for i in walk.issues)


def _split_path(path: str) -> list[str]:
    """Split a discriminator path on dots outside parentheses."""
    parts: list[str] = []
    depth = 0
    current = ""
    for ch in path:
        if ch == "." and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    if current:
        parts.append(current)
    return parts
