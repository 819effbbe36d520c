"""Compile the layer's declarative tables (``make tables``): validate each YAML and write its artefact.

``python -m tkw.build_tables`` validates ``scenarios.yaml`` and ``applications.yaml`` (pydantic against
their named tuples, then their rules) and writes ``scenarios.pickle`` and ``applications.pickle``
next to them (see :mod:`tkw.tables`); ``--check`` only says whether the shipped artefacts are current
(exit status 1 when one is not). Run after editing a table or its schema; a test fails until then.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tkw.applications.model import CATALOGUE_TABLE
from tkw.scenarios.model import SCENARIO_TABLE
from tkw.tables import Table

TABLES: tuple[Table[Any], ...] = (SCENARIO_TABLE, CATALOGUE_TABLE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tkw.build_tables", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the shipped artefacts are current")
    args = parser.parse_args(argv)
    stale = 0
    for table in TABLES:
        if args.check:
            current = table.compiled() == table.parse(table.source_path.read_text(encoding="utf-8"))
            stale += not current
            print(f"{table.artefact_path.name}: {'current' if current else 'STALE: run make tables'}")
        else:
            written = table.compile()
            print(f"{table.artefact_path.name}: {'written' if written else 'already current'}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
