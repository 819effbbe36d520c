"""FHIRPath invariants, evaluated with fhirpathpy, plus the functions FHIR adds that it lacks.

fhirpathpy implements FHIRPath itself; FHIR's validator adds ``hasValue()``, ``resolve()``,
``memberOf()``, ``conformsTo()`` and ``htmlChecks()``. They are supplied here through fhirpathpy's
user invocation table. ``resolve()`` and ``memberOf()`` need the message being validated and the
shipped terminology, which a context variable carries for the duration of one validation.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import fhirpathpy
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

from tkw.profiles.conformance import conformance
from tkw.profiles.native import NATIVE

_R4_MODEL: dict[str, Any] = models["r4"]


@dataclass
class Scope:
    """What resolve() and memberOf() see while one message is validated."""

    references: dict[str, dict[str, Any]] = field(default_factory=dict)  # fullUrl / Type/id -> resource


_scope: contextvars.ContextVar[Scope] = contextvars.ContextVar("tkw_profiles_scope", default=Scope())  # noqa: B039


@contextmanager
def scoped(scope: Scope) -> Iterator[None]:
    token = _scope.set(scope)
    try:
        yield
    finally:
        _scope.reset(token)


def _has_value(inputs: list[Any]) -> bool:
    # A primitive with a value (not only extensions): FHIR's hasValue().
    return len(inputs) == 1 and not isinstance(inputs[0], dict | list) and inputs[0] is not None


def _resolve(inputs: list[Any]) -> list[Any]:
    refs = _scope.get().references
    out = []
    for item in inputs:
        ref = item.get("reference") if isinstance(item, dict) else item
        if isinstance(ref, str) and ref in refs:
            out.append(refs[ref])
    return out


def _member_of(inputs: list[Any], url: str) -> list[bool]:
    if len(inputs) != 1:
        return []
    vs = conformance().value_set(url)
    if vs is None:
        return []  # unknown ValueSet: empty, so the invariant neither passes nor fails on it
    item = inputs[0]
    codings: list[tuple[str | None, Any]]
    if isinstance(item, dict) and "coding" in item:
        codings = [(c.get("system"), c.get("code")) for c in item["coding"]]
    elif isinstance(item, dict):
        codings = [(item.get("system"), item.get("code"))]
    else:
        codings = [(None, item)]
    for system, code in codings:
        for vs_system, codes in vs.systems.items():
            if system not in (None, vs_system):
                continue
            if codes is None:
                return []  # cannot be decided offline
            if code in codes:
                return [True]
    return [False]


def _conforms_to(inputs: list[Any], url: str) -> list[bool]:
    # The resource type of the profile is what can be decided inside an invariant; the full profile
    # is checked by the validator itself whenever it applies.
    profile = conformance().profile(url)
    if len(inputs) != 1 or profile is None or not isinstance(inputs[0], dict):
        return []
    return [inputs[0].get("resourceType") == profile.type]


def _html_checks(inputs: list[Any]) -> bool:
    # Narrative XHTML must be a <div> in the XHTML namespace (txt-1, txt-2); no script, no forms.
    if len(inputs) != 1 or not isinstance(inputs[0], str):
        return False
    div = inputs[0].strip()
    lowered = div.lower()
    return (
        div.startswith("<div")
        and 'xmlns="http://www.w3.org/1999/xhtml"' in div
        and "<script" not in lowered
        and "<form" not in lowered
        and len(div) > len("<div></div>")
    )


_USER_FUNCTIONS: dict[str, dict[str, Any]] = {
    "hasValue": {"fn": _has_value, "arity": {0: []}},
    "resolve": {"fn": _resolve, "arity": {0: []}},
    "memberOf": {"fn": _member_of, "arity": {1: ["String"]}},
    "conformsTo": {"fn": _conforms_to, "arity": {1: ["String"]}},
    "htmlChecks": {"fn": _html_checks, "arity": {0: []}},
}
_OPTIONS: dict[str, Any] = {"userInvocationTable": _USER_FUNCTIONS, "traceFn": lambda _label, _value: None}


@cache
def compiled(expression: str) -> Callable[..., list[Any]]:
    """Parse once per worker; fhirpathpy's compile keeps the parse tree."""
    return fhirpathpy.compile(expression, model=_R4_MODEL, options=_OPTIONS)


_VACUOUS = re.compile(r"^([a-z][A-Za-z]*)\.(empty\(\) or |exists\(\) implies )")


@cache
def _vacuous_when_absent(expression: str) -> str | None:
    """``X`` for ``X.empty() or …`` and ``X.exists() implies …``: true whenever the node has no X.
    (``implies`` binds loosest, so an ``or`` form with an ``implies`` or ``xor`` anywhere is left alone.)"""
    found = _VACUOUS.match(expression)
    if found is None:
        return None
    if found.group(2).startswith("empty") and (" implies " in expression or " xor " in expression):
        return None
    return found.group(1)


def _absent(node: dict[str, Any], name: str) -> bool:
    return not any(
        key == name or key == "_" + name or (key.startswith(name) and key[len(name) : len(name) + 1].isupper())
        for key in node
    )


def holds(expression: str, node: Any, type_name: str, resource: dict[str, Any], root: dict[str, Any]) -> bool | None:
    """True/False: the invariant's verdict on ``node``; None: it could not be evaluated."""
    subject = _vacuous_when_absent(expression)
    if subject is not None and isinstance(node, dict) and _absent(node, subject):
        return True  # the invariant constrains an element the node does not have
    native = NATIVE.get(expression)
    if native is not None and isinstance(node, dict):
        verdict = native(node, resource, root)
        if verdict is not None:
            return verdict
    try:
        result = compiled(expression)(
            ResourceNode.create_node(node, type_name),  # type: ignore[no-untyped-call]
            {"resource": resource, "rootResource": root},
        )
    except Exception:  # an expression fhirpathpy cannot run is reported as not checked, not as a pass
        return None
    if result == [False]:
        return False
    # Empty means the invariant's subject is absent: satisfied, as HAPI treats it.
    return True if result in ([True], []) else None
