"""Declarative tables (YAML in the layer) shipped compiled, so that the request path never parses or
validates them.

A table's shape is one set of named tuples (plain Python: immutable, cheap to define at import, and
pydantic rejects keys they do not have); its whole-table rules are plain
functions. ``make tables`` (``python -m tkw.build_tables``) reads the YAML, validates it (pydantic
against the named tuples, then the rules) and writes ``<name>.pickle`` next to it: the validated
named tuples, stamped with a digest of the YAML and of the module defining the named tuples. At run time
:meth:`Table.load` hashes those two files and unpickles the artefact when the digest matches, so
neither pydantic nor yaml is imported; when it does not (a developer edited the YAML or the schema),
the YAML is validated as before, and a test fails until ``make tables`` is run.

Pickle rather than normalised JSON: the named tuples stay the one definition of each shape (no second,
hand-written JSON-to-tuple conversion), unpickling ~100 rows takes about a millisecond, and the
digest covers the schema module so a pickle never outlives the classes it was made of. The artefact is
built from our own YAML and ships inside the package like the code itself (no untrusted input).
"""

from __future__ import annotations

import hashlib
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

T = TypeVar("T")

_PROTOCOL = 5


class TableError(ValueError):
    """A table breaks one of its whole-table rules (the message says which row and why)."""


def _identity(data: Any) -> Any:
    return data


class Table(NamedTuple, Generic[T]):
    """One YAML table of a package, its schema (the root named tuple) and its whole-table rules."""

    package: str  # e.g. "tkw.scenarios"
    source: str  # the YAML file in the package
    schema: type[T]
    check: Callable[[T], None]  # raises TableError
    prepare: Callable[[Any], Any] = _identity  # reshapes parsed YAML before validation

    @property
    def folder(self) -> Path:
        return Path(sys.modules[self.package].__file__ or "").parent

    @property
    def source_path(self) -> Path:
        return self.folder / self.source

    @property
    def artefact_path(self) -> Path:
        return self.source_path.with_suffix(".pickle")

    def digest(self, source: bytes) -> str:
        """What the artefact is compiled from: the YAML and the module defining the named tuples."""
        schema_file = sys.modules[self.schema.__module__].__file__ or ""
        digest = hashlib.sha256(source)
        digest.update(b"\0")
        digest.update(Path(schema_file).read_bytes())
        return digest.hexdigest()

    # ---- validation (build time, or when the artefact is stale) ---------------------------------

    def validate(self, data: Any) -> T:
        """Parsed YAML -> checked named tuples; raises ``ValueError`` (pydantic's ValidationError for the
        shape, :class:`TableError` for the table's rules)."""
        from pydantic import TypeAdapter  # build time only: a fresh artefact never needs it

        table: T = TypeAdapter(self.schema).validate_python(self.prepare(data))
        self.check(table)
        return table

    def parse(self, text: str) -> T:
        """YAML text -> checked named tuples."""
        import yaml  # build time only, as above

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return self.validate(yaml.load(text, Loader=loader))  # noqa: S506 (a safe loader)

    # ---- the artefact ------------------------------------------------------------------------------

    def compiled(self, source: bytes | None = None) -> T | None:
        """The artefact's table when it was compiled from this YAML and schema, else None."""
        source = self.source_path.read_bytes() if source is None else source
        try:
            stamp, _, body = self.artefact_path.read_bytes().partition(b"\n")
        except FileNotFoundError:
            return None
        if stamp.decode("ascii", "replace") != self.digest(source):
            return None
        try:
            table = pickle.loads(body)  # noqa: S301 (our own build output, shipped in the package like the code)
        except (pickle.UnpicklingError, AttributeError, ImportError, ValueError, TypeError, EOFError):
            return None  # made of classes or enum values that have since changed: stale
        return table if isinstance(table, self.schema) else None

    def load(self) -> T:
        """The table: the compiled artefact when it is current, else the YAML, validated."""
        source = self.source_path.read_bytes()
        table = self.compiled(source)
        return table if table is not None else self.parse(source.decode("utf-8"))

    def compile(self) -> bool:
        """Validate the YAML and write the artefact; False when the shipped one was already current."""
        source = self.source_path.read_bytes()
        table = self.parse(source.decode("utf-8"))
        if self.compiled(source) == table:
            return False  # pickled sets differ byte for byte between runs: rewrite only real changes
        stamp = self.digest(source).encode("ascii")
        self.artefact_path.write_bytes(stamp + b"\n" + pickle.dumps(table, protocol=_PROTOCOL))
        return True
