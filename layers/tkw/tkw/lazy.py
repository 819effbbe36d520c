"""Package attributes imported on first use (PEP 562).

A package's ``__init__`` that imports every submodule makes each of them part of every cold start
that touches the package; the request path needs few of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_attributes(package: str, homes: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``{package}.{homes[name]}`` when ``name`` is first used."""

    def __getattr__(name: str) -> Any:
        if name in homes:
            return getattr(importlib.import_module(f"{package}.{homes[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
