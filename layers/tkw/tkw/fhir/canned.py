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


def ping_body(tkw_edition: str = "live") -> dict[str, str]:
    """The proxy's _ping fields, plus the TKW guide edition the scenarios answer in (the portal shows it)."""
    return {
        "version": __version__,
        "revision": "tkw-emulator",
        "releaseId": __version__,
        "commitId": "local",
        "tkwEdition": tkw_edition,
    }


def status_body(self_link: str, tkw_edition: str = "live") -> dict[str, Any]:
    """``GET /_status`` as the API platform serves it (``examples/_status.json``): _ping's fields and
    the health of what the proxy depends on (here, the emulated TKW itself)."""
    check = {"status": "pass", "timeout": "false", "responseCode": 200, "outcome": "", "links": {"self": self_link}}
    return {"status": "pass", **ping_body(tkw_edition), "checks": {"tkw:status": [check]}}
