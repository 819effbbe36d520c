"""A tiny path language over JSON, so the suite can name elements as data.

``messaging[0].supportedMessage``, ``identifier[system=https://fhir.nhs.uk/Id/nhs-number].value``,
``reason.coding[0].code``, ``entry[resource.resourceType=Slot].resource.id``. A segment is a key,
optionally followed by ``[n]`` (list index) or ``[key=value]`` (every list item whose ``key``, a
dotted path inside the item, equals ``value``; values may contain dots).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[([^\]]*)\]")


class PathError(ValueError):
    """The path is malformed, or cannot be written into the document."""


@dataclass(frozen=True, slots=True)
class Key:
    name: str


@dataclass(frozen=True, slots=True)
class Index:
    position: int


@dataclass(frozen=True, slots=True)
class Match:
    key: str
    value: str


Segment = Key | Index | Match


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def parse(path: str) -> tuple[Segment, ...]:
    segments: list[Segment] = []
    position = 0
    while position < len(path):
        found = _TOKEN.match(path, position)
        if found is None or found.end() == position:
            raise PathError(f"cannot parse path {path!r} at character {position}")
        key, bracket = found.group(1), found.group(2)
        if key is not None:
            segments.append(Key(key))
        elif bracket is not None and bracket.strip().lstrip("-").isdigit():
            segments.append(Index(int(bracket)))
        elif bracket is not None and "=" in bracket:
            name, _, value = bracket.partition("=")
            segments.append(Match(name.strip(), value.strip()))
        else:
            raise PathError(f"path {path!r}: [{bracket}] must be an index or key=value")
        position = found.end()
    if not segments:
        raise PathError("empty path")
    return tuple(segments)


def _step(node: Any, segment: Segment) -> list[Any]:
    if isinstance(segment, Key):
        return [node[segment.name]] if isinstance(node, dict) and segment.name in node else []
    if isinstance(segment, Index):
        if isinstance(node, list) and -len(node) <= segment.position < len(node):
            return [node[segment.position]]
        return []
    if isinstance(node, list):
        return [item for item in node if _matches(item, segment)]
    return []


def _matches(item: Any, segment: Match) -> bool:
    value = item
    for name in segment.key.split("."):
        if not isinstance(value, dict) or name not in value:
            return False
        value = value[name]
    return str(value) == segment.value


def get(document: Any, path: str) -> Any:
    """The first element the path selects, or :data:`MISSING`."""
    nodes = [document]
    for segment in parse(path):
        nodes = [found for node in nodes for found in _step(node, segment)]
        if not nodes:
            return MISSING
    return nodes[0]


def set_all(document: Any, path: str, value: Any) -> int:
    """Write ``value`` at every place the path selects; returns how many places were written.

    Missing object keys on the way are created when an object key follows (so ``meta.versionId``
    can be added to a resource without ``meta``); list indexes and filters that match nothing write
    nothing and create nothing.
    """
    segments = parse(path)
    parents = [document]
    for position, segment in enumerate(segments[:-1]):
        # Only an object can be created on the way: a list needs items to index or match.
        creatable = isinstance(segments[position + 1], Key)
        next_parents: list[Any] = []
        for node in parents:
            found = _step(node, segment)
            if not found and creatable and isinstance(segment, Key) and isinstance(node, dict):
                node[segment.name] = {}
                found = [node[segment.name]]
            next_parents.extend(found)
        parents = next_parents
    last = segments[-1]
    written = 0
    for node in parents:
        if isinstance(last, Key) and isinstance(node, dict):
            node[last.name] = value
            written += 1
        elif isinstance(last, Index) and isinstance(node, list) and -len(node) <= last.position < len(node):
            node[last.position] = value
            written += 1
        elif isinstance(last, Match) and isinstance(node, list):
            for i, item in enumerate(node):
                if _matches(item, last):
                    node[i] = value
                    written += 1
    return written
