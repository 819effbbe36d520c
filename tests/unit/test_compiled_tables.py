"""The compiled tables (``make tables``): the shipped artefacts are the validated YAML, the request path
loads them without pydantic or yaml, and an edited YAML is validated rather than shadowed by a stale
artefact."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bars_support import ROOT

from tkw.build_tables import TABLES
from tkw.tables import Table

LAYER = ROOT / "layers" / "tkw"
# What a BaRS handler's request path does with the tables (the line issue 13's cold-import target names).
REQUEST_PATH = (
    "from tkw.scenarios.engine import get_engine\n"
    "get_engine('live'); get_engine('beta')\n"
    "from tkw.applications import get_catalogue\n"
    "get_catalogue()\n"
)
REPORT_MODULES = (
    "import sys\nprint(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('pydantic', 'yaml')}))\n"
)


def python(*args: str, layer: Path = LAYER) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter with ``layer`` first on its path (as the Lambda layer is)."""
    env = {**os.environ, "PYTHONPATH": str(layer)}
    return subprocess.run([sys.executable, *args], cwd=layer, env=env, capture_output=True, text=True, timeout=120)


def make_tables(layer: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return python("-m", "tkw.build_tables", *args, layer=layer)


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.source)
def test_each_shipped_artefact_is_its_validated_yaml(table: Table[Any]) -> None:
    compiled = table.compiled()
    assert compiled is not None, f"{table.artefact_path.name} is stale: run `make tables`"
    assert compiled == table.parse(table.source_path.read_text(encoding="utf-8"))


def test_the_request_path_loads_the_tables_without_pydantic_or_yaml() -> None:
    done = python("-c", REQUEST_PATH + REPORT_MODULES)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.fixture
def layer_copy(tmp_path: Path) -> Path:
    """The layer's package, to edit as a developer would."""
    shutil.copytree(LAYER / "tkw", tmp_path / "tkw", ignore=shutil.ignore_patterns("__pycache__"))
    imported = python("-c", "import tkw; print(tkw.__file__)", layer=tmp_path)
    assert imported.stdout.strip() == str(tmp_path / "tkw" / "__init__.py")  # never the worktree's own
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")


TITLE = "title: CapabilityStatement of a booking and referral receiver"
SHOW_TITLE = (
    "from tkw.scenarios.engine import get_table\nprint(get_table().responses['cs-booking-referral-receiver'].title)\n"
)


def test_an_edited_yaml_is_validated_and_answered_until_make_tables_compiles_it(layer_copy: Path) -> None:
    scenarios = layer_copy / "tkw" / "scenarios" / "scenarios.yaml"
    edit(scenarios, TITLE, TITLE + " (edited)")
    before = python("-c", SHOW_TITLE + REPORT_MODULES, layer=layer_copy)
    assert before.returncode == 0, before.stderr
    assert before.stdout.splitlines() == [
        "CapabilityStatement of a booking and referral receiver (edited)",
        "['pydantic', 'yaml']",  # the stale artefact is ignored: the YAML is parsed and validated
    ]
    compiled = make_tables(layer_copy)
    assert compiled.returncode == 0, compiled.stderr
    assert "scenarios.pickle: written" in compiled.stdout
    assert "applications.pickle: already current" in compiled.stdout
    after = python("-c", SHOW_TITLE + REPORT_MODULES, layer=layer_copy)
    assert after.stdout.splitlines() == ["CapabilityStatement of a booking and referral receiver (edited)", "[]"]


def test_a_broken_edit_fails_at_load_and_in_make_tables(layer_copy: Path) -> None:
    catalogue = layer_copy / "tkw" / "applications" / "applications.yaml"
    edit(catalogue, "a5t1: {display: Primary Care to Community Pharmacy, application: 5}", "")
    loaded = python("-c", REQUEST_PATH, layer=layer_copy)
    assert loaded.returncode != 0
    assert "Application 5: default use case a5t1 is not its own" in loaded.stderr
    compiled = make_tables(layer_copy)
    assert compiled.returncode != 0
    assert "is not its own" in compiled.stderr
    assert (layer_copy / "tkw" / "applications" / "applications.pickle").read_bytes() == (
        LAYER / "tkw" / "applications" / "applications.pickle"
    ).read_bytes()


def test_make_tables_check_reports_a_stale_artefact(layer_copy: Path) -> None:
    assert make_tables(layer_copy, "--check").returncode == 0
    edit(layer_copy / "tkw" / "scenarios" / "scenarios.yaml", TITLE, TITLE + " (edited)")
    checked = make_tables(layer_copy, "--check")
    assert checked.returncode == 1
    assert "scenarios.pickle: STALE: run make tables" in checked.stdout
    assert "applications.pickle: current" in checked.stdout
