"""Every official BaRS example (API spec examples of every version, IG and live IG examples) is
profile-validated: the only errors are the examples' own defects, listed with their reasons in
tests/data/profile_example_defects.yaml."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from bars_support import ROOT, SPEC

from tkw.profiles import validate_body

# The versioned API-spec examples are read from ../shared when it is there (CI has the fixtures only).
SHARED_SPEC = ROOT.parent / "shared" / "bars-spec"
DEFECTS = ROOT / "tests" / "data" / "profile_example_defects.yaml"


def _examples() -> list[tuple[str, Path]]:
    found: dict[str, Path] = {}
    for base in (SHARED_SPEC, SPEC):
        if not base.is_dir():
            continue
        for folder in sorted(base.iterdir()):
            if folder.is_dir() and folder.name.startswith(("examples", "ig-examples")):
                for path in sorted(folder.rglob("*.json")):
                    found.setdefault(str(path.relative_to(base)), path)
    return sorted(found.items())


@cache
def _documented() -> dict[str, set[tuple[str, str]]]:
    by_example: dict[str, set[tuple[str, str]]] = {}
    for group in yaml.safe_load(DEFECTS.read_text(encoding="utf-8")):
        assert group["reason"].strip()
        for example in group["examples"]:
            by_example.setdefault(example, set()).update((rule, expr) for rule, expr in group["errors"])
    return by_example


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        pytest.skip("not JSON (the spec ships a few files that are not)")


EXAMPLES = _examples()


def test_the_examples_are_there() -> None:
    names = {name.split("/")[0] for name, _ in EXAMPLES}
    assert {"examples", "ig-examples", "ig-examples-live"} <= names
    assert len(EXAMPLES) > 100


@pytest.mark.parametrize(("name", "path"), EXAMPLES, ids=[n for n, _ in EXAMPLES])
def test_official_example_has_only_its_documented_errors(name: str, path: Path) -> None:
    body = _load(path)
    report = validate_body(body)
    found = {(issue.rule, issue.expression) for issue in report.errors}
    assert found == _documented().get(name, set()), [i for i in report.errors]


def test_every_documented_defect_is_still_an_example() -> None:
    names = {name for name, _ in EXAMPLES}
    if not SHARED_SPEC.is_dir():
        pytest.skip("../shared/bars-spec is not here: the versioned examples cannot be listed")
    assert set(_documented()) <= names


def test_the_ig_messages_are_clean() -> None:
    """The IG's example messages (the shapes suppliers copy) have no profile error at all."""
    ig = ("ig-examples/examples/", "ig-examples-live/")
    messages = [(n, p) for n, p in EXAMPLES if n.startswith(ig) and ("REQ" in n or "RESP" in n)]
    assert len(messages) >= 10
    for name, path in messages:
        if name in _documented():
            continue
        assert validate_body(_load(path)).errors == [], name


def test_every_known_quirk_has_a_reason_and_is_met_in_the_official_messages() -> None:
    from tkw.profiles.messages import quirks

    ig = [p for n, p in EXAMPLES if n.startswith(("ig-examples/examples/", "ig-examples-live/"))]
    used: set[str] = set()
    for path in ig:
        for _issue, reason in validate_body(_load(path)).suppressed:
            used.add(reason)
    for quirk in quirks():
        assert len(quirk.reason.split()) > 5, quirk
        assert quirk.reason in used, f"no official message needs the quirk {quirk.rule} any more"
