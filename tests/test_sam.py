"""The template passes SAM's own checks and builds without Docker (aws-sam-cli in its own venv)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from bars_support import ROOT

pytestmark = pytest.mark.sam


def sam() -> str:
    path = os.environ.get("SAM_BIN") or str(ROOT / ".venv-sam" / "bin" / "sam")
    assert Path(path).exists(), f"aws-sam-cli not found at {path}: run `make install`"
    return path


def run_sam(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    return subprocess.run([sam(), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_sam_validate_lint_passes() -> None:
    result = run_sam("validate", "--lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_build_succeeds_and_the_layer_holds_the_tkw_package(tmp_path: Path) -> None:
    build_dir = tmp_path / "build"
    result = run_sam("build", "--build-dir", str(build_dir), "--cache-dir", str(tmp_path / "cache"))
    assert result.returncode == 0, result.stdout + result.stderr
    layer = build_dir / "TkwLayer" / "python"
    assert (layer / "tkw" / "pipeline.py").exists()
    assert (layer / "tkw" / "fhir" / "data" / "proxy-capability-statement.json").exists()
    assert (layer / "fhir" / "resources").is_dir(), "the layer must carry its dependencies"
    handler = build_dir / "MetadataFunction" / "app.py"
    assert handler.exists()
    # Functions hold only their thin handler: dependencies come from the layer.
    assert not (build_dir / "MetadataFunction" / "tkw").exists()
    # What the Lambda runtime provides (botocore) or the emulator never imports (FHIR R5) is left out.
    assert not (layer / "botocore").exists()
    assert not (layer / "fhir" / "resources" / "patient.py").exists()
    # Lambda's /opt is read-only: the layer carries its bytecode, hash-based and unchecked (zip
    # extraction loses the sources' mtimes), or every cold start compiles every module again.
    for pyc in (
        layer / "tkw" / "__pycache__" / "pipeline.cpython-311.pyc",
        layer / "aws_lambda_powertools" / "event_handler" / "__pycache__" / "api_gateway.cpython-311.pyc",
    ):
        assert pyc.exists(), f"{pyc.relative_to(layer)} missing: the layer ships without bytecode"
        flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
        assert flags == 0b01, f"{pyc.name}: bytecode flags {flags:#b}, expected hash-based unchecked (0b1)"
    # The layer alone (no dev venv, no site-packages) imports and answers a sentinel scenario.
    probe = (
        "import json, sys\n"
        "from fhir.resources.R4B.bundle import Bundle\n"
        "import tkw.pipeline, tkw.validation, tkw.reports, tkw.stateful, tkw.auth.assertion\n"
        "from tkw.scenarios.engine import get_engine\n"
        "from tkw.scenarios.model import SCENARIO_TABLE\n"
        "from tkw.applications.model import CATALOGUE_TABLE\n"
        "assert SCENARIO_TABLE.compiled() and CATALOGUE_TABLE.compiled(), 'the compiled tables are missing'\n"
        "print(len(get_engine().table.scenarios))\n"
    )
    env = {"PYTHONPATH": str(layer), "PATH": os.environ.get("PATH", "")}
    done = subprocess.run([sys.executable, "-S", "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) >= 50
