"""Python versions of the core invariants checked on (nearly) every element of every message.

fhirpathpy interprets an expression in about half a millisecond; the domain-resource, Bundle-entry,
Reference and ContactPoint invariants run hundreds of times per message, so they are written out
here, each keyed by the exact expression it implements (a profile that rewords one gets fhirpathpy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

Native = Callable[[Any, dict[str, Any], dict[str, Any]], bool | None]


def _strings(value: Any) -> Iterator[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _contained(node: Any) -> list[dict[str, Any]]:
    found = node.get("contained") if isinstance(node, dict) else None
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def _dom2(node: Any, _r: dict[str, Any], _root: dict[str, Any]) -> bool:
    return not any(c.get("contained") for c in _contained(node))


def _dom3(node: Any, resource: dict[str, Any], _root: dict[str, Any]) -> bool:
    contained = _contained(node)
    if not contained:
        return True
    referenced = {s for s in _strings({k: v for k, v in resource.items() if k != "contained"}) if s.startswith("#")}
    for c in contained:
        if "#" in set(_strings(c)):
            continue  # a contained resource that refers to its container ("#") is reachable
        if "#" + str(c.get("id", "")) not in referenced:
            return False
    return True


def _dom4(node: Any, _r: dict[str, Any], _root: dict[str, Any]) -> bool:
    metas = [c["meta"] for c in _contained(node) if isinstance(c.get("meta"), dict)]
    return not any("versionId" in m or "lastUpdated" in m for m in metas)


def _dom5(node: Any, _r: dict[str, Any], _root: dict[str, Any]) -> bool:
    return not any(isinstance(c.get("meta"), dict) and c["meta"].get("security") for c in _contained(node))


def _dom6(node: Any, _r: dict[str, Any], _root: dict[str, Any]) -> bool:
    text = node.get("text") if isinstance(node, dict) else None
    return isinstance(text, dict) and bool(text.get("div"))


def _bdl5(node: Any, _r: dict[str, Any], _root: dict[str, Any]) -> bool:
    return any(k in node for k in ("resource", "request", "response"))


def _bdl8(node: Any, _r: dict[str, Any], _root: dict[str, Any]) -> bool:
    full_url = node.get("fullUrl")
    return not (isinstance(full_url, str) and "/_history/" in full_url)


def _ref1(node: Any, _r: dict[str, Any], root: dict[str, Any]) -> bool:
    ref = node.get("reference")
    if not isinstance(ref, str) or not ref.startswith("#"):
        return True
    return ref[1:] in {c.get("id") for c in _contained(root)}


def _cpt2(node: Any, _r: dict[str, Any], _root: dict[str, Any]) -> bool:
    return "value" not in node or "system" in node


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) < 19:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _per1(node: Any, _r: dict[str, Any], _root: dict[str, Any]) -> bool | None:
    start, end = node.get("start"), node.get("end")
    if start is None or end is None:
        return True
    a, b = _instant(start), _instant(end)
    if a is not None and b is not None:
        return a <= b
    if isinstance(start, str) and isinstance(end, str) and len(start) == len(end) and len(start) <= 10:
        return start <= end  # same-precision dates compare as text
    return None  # mixed precision: left to fhirpathpy


def _bundle_type(node: Any) -> Any:
    return node.get("type")


def _bdl1(node: Any, _r: dict[str, Any], _root: dict[str, Any]) -> bool:
    return "total" not in node or _bundle_type(node) in ("searchset", "history")


def _entries(node: Any) -> list[dict[str, Any]]:
    entries = node.get("entry")
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _bdl2(node: Any, _r: dict[str, Any], _root: dict[str, Any]) -> bool:
    return _bundle_type(node) == "searchset" or not any("search" in e for e in _entries(node))


def _bdl3(node: Any, _r: dict[str, Any], _root: dict[str, Any]) -> bool:
    wanted = _bundle_type(node) in ("batch", "transaction", "history")
    return all(("request" in e) == wanted for e in _entries(node))


def _bdl4(node: Any, _r: dict[str, Any], _root: dict[str, Any]) -> bool:
    wanted = _bundle_type(node) in ("batch-response", "transaction-response", "history")
    return all(("response" in e) == wanted for e in _entries(node))


def _bdl7(node: Any, _r: dict[str, Any], _root: dict[str, Any]) -> bool:
    if _bundle_type(node) == "history":
        return True
    keys = []
    for e in _entries(node):
        if "fullUrl" not in e:
            continue
        resource = e.get("resource")
        meta = resource.get("meta") if isinstance(resource, dict) else None
        version = meta.get("versionId") if isinstance(meta, dict) else None
        keys.append((e["fullUrl"], version))
    return len(keys) == len(set(keys))


def _first_type(node: Any) -> str | None:
    entries = _entries(node)
    resource = entries[0].get("resource") if entries else None
    found = resource.get("resourceType") if isinstance(resource, dict) else None
    return found if isinstance(found, str) else None


def _bdl9(node: Any, _r: dict[str, Any], _root: dict[str, Any]) -> bool:
    ident = node.get("identifier")
    return _bundle_type(node) != "document" or (isinstance(ident, dict) and "system" in ident and "value" in ident)


def _bdl10(node: Any, _r: dict[str, Any], _root: dict[str, Any]) -> bool:
    return _bundle_type(node) != "document" or "timestamp" in node


def _bdl11(node: Any, _r: dict[str, Any], _root: dict[str, Any]) -> bool:
    return _bundle_type(node) != "document" or _first_type(node) == "Composition"


def _bdl12(node: Any, _r: dict[str, Any], _root: dict[str, Any]) -> bool:
    return _bundle_type(node) != "message" or _first_type(node) == "MessageHeader"


NATIVE: dict[str, Native] = {
    "contained.contained.empty()": _dom2,
    "contained.where((('#'+id in (%resource.descendants().reference | %resource.descendants().as(canonical) | "
    "%resource.descendants().as(uri) | %resource.descendants().as(url))) or descendants().where(reference = '#')"
    ".exists() or descendants().where(as(canonical) = '#').exists() or descendants().where(as(canonical) = '#')"
    ".exists()).not()).trace('unmatched', id).empty()": _dom3,
    "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()": _dom4,
    "contained.meta.security.empty()": _dom5,
    "text.`div`.exists()": _dom6,
    "resource.exists() or request.exists() or response.exists()": _bdl5,
    "fullUrl.contains('/_history/').not()": _bdl8,
    "reference.startsWith('#').not() or (reference.substring(1).trace('url') in %rootResource.contained.id"
    ".trace('ids'))": _ref1,
    "value.empty() or system.exists()": _cpt2,
    "start.hasValue().not() or end.hasValue().not() or (start <= end)": _per1,
    "total.empty() or (type = 'searchset') or (type = 'history')": _bdl1,
    "entry.search.empty() or (type = 'searchset')": _bdl2,
    "entry.all(request.exists() = (%resource.type = 'batch' or %resource.type = 'transaction' or "
    "%resource.type = 'history'))": _bdl3,
    "entry.all(response.exists() = (%resource.type = 'batch-response' or %resource.type = "
    "'transaction-response' or %resource.type = 'history'))": _bdl4,
    "(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId).isDistinct()": _bdl7,
    "type = 'document' implies (identifier.system.exists() and identifier.value.exists())": _bdl9,
    "type = 'document' implies (timestamp.hasValue())": _bdl10,
    "type = 'document' implies entry.first().resource.is(Composition)": _bdl11,
    "type = 'message' implies entry.first().resource.is(MessageHeader)": _bdl12,
}
