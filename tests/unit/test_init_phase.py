"""Every handler module imports with the cyclic collector off and turns it back on when it is done.

A handler that forgot ``init_phase.end()`` would run its whole execution environment without the
collector (memory only ever growing); one that imported Powertools before ``init_phase`` would lose
the cold-start saving. Both are checked on the source, as Lambda imports it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from bars_support import ROOT

HANDLERS = sorted((ROOT / "functions").glob("*/app.py"))


def _statements(path: Path) -> list[ast.stmt]:
    body = ast.parse(path.read_text(encoding="utf-8")).body
    docstring = body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    return body[1:] if docstring else body


@pytest.mark.parametrize("path", HANDLERS, ids=lambda p: p.parent.name)
def test_a_handler_imports_init_phase_first_and_ends_it_last(path: Path) -> None:
    statements = _statements(path)
    first, last = statements[0], statements[-1]
    assert isinstance(first, ast.ImportFrom) and (first.module, [a.name for a in first.names]) == (
        "tkw",
        ["init_phase"],
    ), "the first import must be `from tkw import init_phase`"
    assert ast.unparse(last) == "init_phase.end()", "the last statement must be `init_phase.end()`"


def test_a_handler_imports_without_a_collection_and_leaves_the_collector_on() -> None:
    """In a fresh interpreter, as Lambda's init phase runs it (without init_phase: dozens of collections)."""
    path = ROOT / "functions" / "process_message" / "app.py"
    probe = (
        "import gc, importlib.util as u, sys\n"
        "runs = []\n"  # collections from the moment init_phase is imported
        "gc.callbacks.append(lambda phase, info: 'tkw.init_phase' in sys.modules and runs.append(phase))\n"
        f"s = u.spec_from_file_location('app', {str(path)!r}); s.loader.exec_module(u.module_from_spec(s))\n"
        "print(len(runs), gc.isenabled())"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["0", "True"]
