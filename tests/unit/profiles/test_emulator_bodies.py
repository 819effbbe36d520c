"""Every body the emulator sends conforms to the profiles: canned resources, the receiver suite's
outgoing messages, every scenario's error OperationOutcome and every error the code raises.

Scenario answers themselves are profile-checked wherever a test checks a response with
``bars_support.assert_valid_fhir`` (every row of the guide, in tests/functional/test_scenarios_pipeline.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from bars_support import ROOT, assert_conforms_to_profiles

from tkw.fhir.outcome import BarsError
from tkw.scenarios.engine import load_table

LAYER = ROOT / "layers" / "tkw" / "tkw"
BODIES = sorted(p for p in LAYER.rglob("*.json") if "profiles" not in p.parts)
# Every error the layer raises in code: BarsError.of(status, "BARS_CODE", "issue-code", ...).
RAISED = re.compile(r'BarsError\.of\(\s*(\d{3}),\s*"([A-Z_]+)",\s*"([a-z-]+)"')


def _raised() -> list[tuple[int, str, str]]:
    found = set()
    for path in LAYER.rglob("*.py"):
        for status, bars_code, issue in RAISED.findall(path.read_text(encoding="utf-8")):
            found.add((int(status), bars_code, issue))
    return sorted(found)


@pytest.mark.parametrize("path", BODIES, ids=[str(p.relative_to(LAYER)) for p in BODIES])
def test_every_shipped_resource_conforms(path: Path) -> None:
    body = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(body, dict) and "resourceType" in body:
        assert_conforms_to_profiles(body)


def test_every_scenario_error_outcome_conforms() -> None:
    errors = [(s.id, s.outcome) for s in load_table().scenarios if s.outcome.error is not None]
    assert len(errors) > 10
    for scenario_id, outcome in errors:
        assert outcome.error is not None
        body = BarsError.of(outcome.status, outcome.error.code, outcome.error.issue, outcome.error.diagnostics)
        try:
            assert_conforms_to_profiles(body.outcome())
        except AssertionError as err:
            raise AssertionError(f"scenario {scenario_id}: {err}") from None


RAISED_ERRORS = _raised()


def test_the_raised_errors_are_found() -> None:
    assert len(RAISED_ERRORS) > 10


@pytest.mark.parametrize(("status", "bars_code", "issue"), RAISED_ERRORS)
def test_every_error_the_code_raises_conforms(status: int, bars_code: str, issue: str) -> None:
    outcome = BarsError.of(status, bars_code, issue, "why", expression="Bundle.entry[0]", header="X-Request-Id")
    assert_conforms_to_profiles(outcome.outcome())
