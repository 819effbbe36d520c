"""Build the profile validator's package data from a folder of FHIR packages.

``python -m tkw.profiles.build SOURCE`` (``make profiles PROFILES_FROM=SOURCE``) reads every
package folder under SOURCE (each with ``package.json`` and one FHIR JSON resource per file, as in
``shared/fhir-packages``), keeps only what validation needs and writes ``data/conformance.json.gz``:

* ``packages``: name and version of each package (named in every report);
* ``profiles``: StructureDefinition snapshots, each element reduced to cardinality, types, fixed and
  pattern values, bindings, slicing, constraints and content references;
* ``value_sets``: each ValueSet flattened to ``{system: [codes] | null}``; ``null`` means the codes of
  that system cannot be enumerated offline (SNOMED CT filters, external systems), with the reason;
* ``code_systems``: the codes of every CodeSystem whose content is complete.

Run at build time only; the emulator reads the output, never SOURCE.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent / "data" / "conformance.json.gz"
_SKIP_FILES = {"package.json", "provenance.json", ".index.json"}
_BEST_PRACTICE = "http://hl7.org/fhir/StructureDefinition/elementdefinition-bestpractice"
_ELEMENT_KEYS = ("id", "path", "sliceName", "min", "max", "contentReference", "maxLength")


def _element(e: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: e[k] for k in _ELEMENT_KEYS if k in e}
    types = []
    for t in e.get("type", []):
        code = t.get("code", "")
        if code.startswith("http://hl7.org/fhirpath/System."):
            # FHIRPath system types (ids, urls of primitives): the fhir-type extension names the FHIR type.
            code = next((x.get("valueUrl", "") for x in t.get("extension", [])), "string") or "string"
        entry: dict[str, Any] = {"code": code}
        if t.get("profile"):
            entry["profile"] = t["profile"]
        if t.get("targetProfile"):
            entry["targetProfile"] = t["targetProfile"]
        types.append(entry)
    if types:
        out["type"] = types
    for key, value in e.items():
        if key.startswith(("fixed", "pattern", "minValue", "maxValue")):
            out[key] = value
    binding = e.get("binding")
    if binding and binding.get("valueSet") and binding.get("strength") in ("required", "extensible"):
        out["binding"] = {"strength": binding["strength"], "valueSet": binding["valueSet"]}
    if "slicing" in e:
        s = e["slicing"]
        out["slicing"] = {
            "discriminator": s.get("discriminator", []),
            "rules": s.get("rules", "open"),
            "ordered": s.get("ordered", False),
        }
    constraints = []
    for c in e.get("constraint", []):
        if not c.get("expression"):
            continue
        best = any(x.get("url") == _BEST_PRACTICE and x.get("valueBoolean") for x in c.get("extension", []))
        constraints.append(
            {
                "key": c["key"],
                "severity": "warning" if best else c.get("severity", "error"),
                "human": c.get("human", ""),
                "expression": c["expression"],
                **({"bestPractice": True} if best else {}),
            }
        )
    if constraints:
        out["constraint"] = constraints
    return out


def _profile(sd: dict[str, Any], package: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "url": sd["url"],
        "name": sd.get("name", sd.get("id", "")),
        "version": sd.get("version", ""),
        "type": sd["type"],
        "kind": sd.get("kind", ""),
        "derivation": sd.get("derivation", ""),
        "baseDefinition": sd.get("baseDefinition", ""),
        "abstract": sd.get("abstract", False),
        "package": package,
        "elements": [_element(e) for e in sd["snapshot"]["element"]],
    }
    if sd.get("context"):
        out["context"] = sd["context"]
    return out


def _concepts(
    concepts: list[dict[str, Any]], parent: str | None, codes: list[str], parents: dict[str, list[str]]
) -> None:
    for c in concepts:
        codes.append(c["code"])
        if parent is not None:
            parents.setdefault(c["code"], []).append(parent)
        _concepts(c.get("concept", []), c["code"], codes, parents)


def _code_systems(resources: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, dict[str, list[str]]]]:
    out: dict[str, Any] = {}
    hierarchy: dict[str, dict[str, list[str]]] = {}
    for cs in resources:
        codes: list[str] = []
        parents: dict[str, list[str]] = {}
        _concepts(cs.get("concept", []), None, codes, parents)
        out[cs["url"]] = {
            "version": cs.get("version", ""),
            "content": cs.get("content", ""),
            "caseSensitive": cs.get("caseSensitive", True),
            "codes": codes,
        }
        hierarchy[cs["url"]] = parents
    return out, hierarchy


def _descendants(code: str, parents: dict[str, list[str]], codes: list[str], include_self: bool) -> set[str]:
    children: dict[str, list[str]] = {}
    for child, ps in parents.items():
        for p in ps:
            children.setdefault(p, []).append(child)
    found: set[str] = {code} if include_self else set()
    stack = list(children.get(code, []))
    while stack:
        c = stack.pop()
        if c not in found:
            found.add(c)
            stack.extend(children.get(c, []))
    return found & set(codes) if codes else found


def _flatten(
    url: str,
    value_sets: dict[str, dict[str, Any]],
    code_systems: dict[str, Any],
    hierarchy: dict[str, dict[str, list[str]]],
    seen: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """``{"systems": {system: sorted codes | None}, "unchecked": {system: reason}}``."""
    vs = value_sets.get(url)
    if vs is None or url in seen:
        return {"systems": {}, "unchecked": {"*": f"ValueSet {url} is not shipped"}}
    systems: dict[str, set[str] | None] = {}
    unchecked: dict[str, str] = {}

    def add(system: str, codes: set[str] | None, reason: str = "") -> None:
        if codes is None:
            systems[system] = None
            unchecked.setdefault(system, reason)
        elif systems.get(system, set()) is not None:
            systems.setdefault(system, set()).update(codes)  # type: ignore[union-attr]

    for inc in vs.get("compose", {}).get("include", []):
        for nested in inc.get("valueSet", []):
            sub = _flatten(nested.split("|")[0], value_sets, code_systems, hierarchy, seen | {url})
            for system, codes in sub["systems"].items():
                add(system, None if codes is None else set(codes), sub["unchecked"].get(system, ""))
            unchecked.update({k: v for k, v in sub["unchecked"].items() if k == "*"})
        system = inc.get("system")
        if not system:
            continue
        cs = code_systems.get(system)
        if inc.get("concept"):
            add(system, {c["code"] for c in inc["concept"]})
        elif inc.get("filter"):
            filters = inc["filter"]
            if cs and cs["content"] == "complete" and all(f.get("op") in ("is-a", "descendent-of") for f in filters):
                picked: set[str] = set(cs["codes"])
                for f in filters:
                    picked &= _descendants(f["value"], hierarchy[system], cs["codes"], f["op"] == "is-a")
                add(system, picked)
            else:
                add(system, None, f"a filter on {system} cannot be evaluated offline")
        elif cs and cs["content"] == "complete":
            add(system, set(cs["codes"]))
        else:
            add(system, None, f"the code system {system} is not shipped (external terminology)")
    # An expansion in the source adds what it lists; it cannot make a filter on an external code
    # system (a SNOMED CT refset, say) checkable, since a stored expansion may be partial or stale.
    stack = list(vs.get("expansion", {}).get("contains", []))
    while stack:
        c = stack.pop()
        if c.get("code") and c.get("system"):
            add(c["system"], {c["code"]})
        stack.extend(c.get("contains", []))
        for exc in vs.get("compose", {}).get("exclude", []):
            codes = systems.get(exc.get("system", ""))
            if codes is not None and exc.get("concept"):
                codes.difference_update(c["code"] for c in exc["concept"])
    return {
        "systems": {s: (None if c is None else sorted(c)) for s, c in systems.items()},
        "unchecked": unchecked,
    }


def build(source: Path) -> dict[str, Any]:
    packages: list[dict[str, str]] = []
    profiles: dict[str, Any] = {}
    value_sets: dict[str, dict[str, Any]] = {}
    cs_resources: list[dict[str, Any]] = []
    for folder in sorted(p for p in source.iterdir() if (p / "package.json").is_file()):
        manifest = json.loads((folder / "package.json").read_text())
        name = f"{manifest['name']}#{manifest['version']}"
        packages.append({"name": manifest["name"], "version": manifest["version"]})
        for path in sorted(folder.glob("*.json")):
            if path.name in _SKIP_FILES:
                continue
            res = json.loads(path.read_text())
            kind = res.get("resourceType")
            if kind == "StructureDefinition" and res.get("snapshot"):
                profiles[res["url"]] = _profile(res, name)
            elif kind == "ValueSet":
                value_sets[res["url"]] = res
            elif kind == "CodeSystem":
                cs_resources.append(res)
    code_systems, hierarchy = _code_systems(cs_resources)
    flat = {
        url: {"version": vs.get("version", ""), **_flatten(url, value_sets, code_systems, hierarchy)}
        for url, vs in value_sets.items()
    }
    return {
        "packages": packages,
        "profiles": profiles,
        "value_sets": flat,
        "code_systems": {u: c for u, c in code_systems.items() if c["content"] == "complete"},
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tkw.profiles.build <folder of FHIR packages>", file=sys.stderr)
        return 2
    data = build(Path(argv[0]))
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same input gives byte-identical output (reviewable diffs, reproducible builds).
    OUT.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    print(
        f"{OUT.name}: {len(data['profiles'])} profiles, {len(data['value_sets'])} value sets, "
        f"{len(data['code_systems'])} code systems; {len(raw):,} bytes, {OUT.stat().st_size:,} gzipped; "
        + ", ".join(f"{p['name']}#{p['version']}" for p in data["packages"])
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
