"""Every handler module imports with the cyclic collector off and turns it back on when it is done;
the GET handlers' cold starts and requests never load what only messages need.

A handler that forgot ``init_phase.end()`` would run its whole execution environment without the
collector (memory only ever growing); one that imported Powertools before ``init_phase`` would lose
the cold-start saving. Both are checked on the source, as Lambda imports it.
"""

from __future__ import annotations

import ast
import json
import os
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


# Loaded by the first request that needs them: the 111-to-ED state machine, the Application
# catalogue, the bearer-token check (int mode), FHIR structure (fhir.resources) and pydantic.
ON_FIRST_USE = ("tkw.stateful", "tkw.applications", "tkw.auth.bearer", "fhir", "pydantic")


@pytest.mark.parametrize("function", ["metadata", "slot"])
def test_a_get_handler_never_loads_what_only_messages_need(function: str) -> None:
    """Neither its cold start nor its requests (sandbox mode, reports off: no AWS here) load them."""
    path = ROOT / "functions" / function / "app.py"
    probe = (
        "import importlib.util as u, json, sys\n"
        "from tkw_local.functions import LocalContext\n"
        f"s = u.spec_from_file_location('app', {str(path)!r}); m = u.module_from_spec(s); s.loader.exec_module(m)\n"
        "def loaded(): return sorted(n for n in sys.modules if n.startswith(ON_FIRST_USE))\n"
        "after_import = loaded()\n"
        f"event = json.loads(open({str(ROOT / 'events' / f'{function}.json')!r}).read())\n"
        "answer = m.handler(event, LocalContext(function_name='f', aws_request_id='r', invoked_function_arn='a'))\n"
        "print(json.dumps([answer['statusCode'], after_import, loaded()]))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "tkw"), str(ROOT)]),
        "REPORTS_ENABLED": "false",
        "AUTH_MODE": "sandbox",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    done = subprocess.run(
        [sys.executable, "-c", f"ON_FIRST_USE = {ON_FIRST_USE!r}\n{probe}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    status, after_import, after_request = json.loads(done.stdout.strip().splitlines()[-1])
    assert status == 200
    assert after_import == [] and after_request == []
