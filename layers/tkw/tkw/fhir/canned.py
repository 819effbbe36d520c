"""Canned resources the proxy serves itself, loaded once per process."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from tkw import __version__


@cache
def _load_text(name: str) -> str:
    return resources.files("tkw.fhir").joinpath("data", name).read_text(encoding="utf-8")


def load_json(name: str) -> Any:
    """A fresh copy of a data file (callers may mutate it)."""
    return json.loads(_load_text(name))


def proxy_capability_statement() -> dict[str, Any]:
    """The BaRS API's own CapabilityStatement: GET /metadata without NHSD-Target-Identifier."""
    return load_json("proxy-capability-statement.json")  # type: ignore[no-any-return]


def ping_body() -> dict[str, str]:
    return {"version": __version__, "revision": "tkw-emulator", "releaseId": __version__, "commitId": "local"}
