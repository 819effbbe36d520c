"""From a suite test to the concrete HTTP request TKW sends: variables, payload edits, headers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from tkw.encoded_headers import ODS_SYSTEM, encode_base64_json
from tkw.receiver import paths
from tkw.receiver.suite import TEST_BUNDLE_ID, VARIABLE, SetOp, Suite, SuiteTest, load_payload

FHIR_JSON = "application/fhir+json"


class BuildError(ValueError):
    """The request cannot be built (a value it needs is missing); ``str()`` says which."""


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    test_id: str
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None = None
    bundle_id: str | None = None  # Bundle.id of a message payload

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@dataclass
class RequestBuilder:
    """Builds every request of one run (one instance per run: fixed times, one target)."""

    suite: Suite
    endpoint: str  # the receiver's base URL, no trailing slash
    target: str
    target_system: str = "https://fhir.nhs.uk/Id/dos-service-id"
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _fixed: dict[str, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        started = self.now().replace(second=0, microsecond=0)
        tomorrow = (started + timedelta(days=1)).replace(hour=10, minute=0)
        sender = self.suite.sender
        self._fixed = {
            "target": self.target,
            "target_system": self.target_system,
            "target_token": f"{self.target_system}|{self.target}",
            "target_header": encode_base64_json({"system": self.target_system, "value": self.target}),
            "end_user_organisation": encode_base64_json(
                {
                    "resourceType": "Organization",
                    "identifier": [{"system": ODS_SYSTEM, "value": sender.ods_code}],
                    "name": sender.organisation_name,
                }
            ),
            "requesting_software": encode_base64_json(
                {
                    "resourceType": "Device",
                    "identifier": [{"system": sender.software_identifier_system, "value": sender.software_identifier}],
                    "deviceName": [{"name": sender.software_name, "type": "manufacturer-name"}],
                    "version": [{"value": sender.software_version}],
                }
            ),
            "window_start": _iso(started),
            "window_end": _iso(started + timedelta(days=self.suite.defaults.slot_window_days)),
            "slot_start": _iso(tomorrow),
            "slot_end": _iso(tomorrow + timedelta(minutes=10)),
            "nhs_number": self.suite.nhs_number,
        }

    # -- variables ----------------------------------------------------------------------------

    def _value(self, name: str, own: Mapping[str, str], sent: Mapping[str, PreparedRequest]) -> str:
        if name == "uuid":
            return str(uuid.uuid4())
        if name == "now":
            return _iso(self.now())
        if name in own:
            return own[name]
        if name in self._fixed:
            return self._fixed[name]
        ref = TEST_BUNDLE_ID.match(name)
        if ref:
            earlier = sent.get(ref.group(1))
            if earlier is None or earlier.bundle_id is None:
                raise BuildError(f"${{{name}}}: test {ref.group(1)} has not sent a message in this run")
            return earlier.bundle_id
        raise BuildError(f"${{{name}}} has no value in this run (the test that captures it did not)")

    def substitute(
        self,
        value: Any,
        own: Mapping[str, str],
        sent: Mapping[str, PreparedRequest],
        encode: Callable[[str], str] | None = None,
    ) -> Any:
        if isinstance(value, str):
            return VARIABLE.sub(lambda m: (encode or str)(self._value(m.group(1), own, sent)), value)
        if isinstance(value, list):
            return [self.substitute(v, own, sent, encode) for v in value]
        if isinstance(value, dict):
            return {k: self.substitute(v, own, sent, encode) for k, v in value.items()}
        return value

    # -- requests -----------------------------------------------------------------------------

    def build(
        self, test: SuiteTest, captures: Mapping[str, str], sent: Mapping[str, PreparedRequest]
    ) -> PreparedRequest:
        spec = test.request
        if spec.replay:
            earlier = sent.get(spec.replay)
            if earlier is None:
                raise BuildError(f"test {spec.replay} sent nothing to replay")
            return PreparedRequest(
                test.id, earlier.method, earlier.url, earlier.headers, earlier.body, earlier.bundle_id
            )

        own = dict(captures)
        bundle_id: str | None = None
        body: bytes | None = None
        if spec.payload:
            bundle_id = str(uuid.uuid4())
            own["bundle_id"] = bundle_id
            document = load_payload(spec.payload)
            edits = list(spec.set)
            if document.get("resourceType") == "Bundle" and document.get("type") == "message":
                edits = list(self.suite.defaults.message_set) + edits
            for op in edits:
                self._apply(document, op, own, sent, test.id)
            if isinstance(document.get("id"), str):
                bundle_id = document["id"]  # as sent (the same-payload-id test resends an earlier one)
            body = json.dumps(document, ensure_ascii=False).encode()
        elif spec.body is not None:
            body = str(self.substitute(spec.body, own, sent)).encode()

        path = self.substitute(spec.path, own, sent, encode=lambda v: quote(v, safe=""))
        url = self.endpoint + path
        if spec.query:
            pairs = [(q.name, str(self.substitute(q.value, own, sent))) for q in spec.query]
            url += "?" + urlencode(pairs, quote_via=quote, safe="")

        merged: dict[str, tuple[str, str]] = {}
        layers: list[Mapping[str, str | None]] = [self.suite.defaults.headers, self.extra_headers]
        if body is not None:
            layers.append({"Content-Type": FHIR_JSON})
        if spec.use_context:
            layers.append({"use-context": spec.use_context})
        layers.append(spec.headers)
        for layer in layers:
            for name, raw in layer.items():
                if raw is None:
                    merged.pop(name.lower(), None)
                else:
                    merged[name.lower()] = (name, str(self.substitute(raw, own, sent)))
        return PreparedRequest(
            test_id=test.id,
            method=spec.method,
            url=url,
            headers=tuple(merged.values()),
            body=body,
            bundle_id=bundle_id,
        )

    def _apply(
        self, document: Any, op: SetOp, own: Mapping[str, str], sent: Mapping[str, PreparedRequest], test_id: str
    ) -> None:
        value = self.substitute(op.value, own, sent)
        written = sum(paths.set_all(node, op.path, value) for node in select(document, op.select))
        if not written and not op.optional:
            # Suite data that edits nothing is a bug in the suite, not the receiver's fault.
            raise BuildError(f"{test_id}: set {op.select}.{op.path} matched nothing in the payload")


def select(document: Any, selector: str) -> list[Any]:
    """Parts of a message payload: ``Bundle``, ``focus``, or every resource of a type."""
    if selector == "Bundle":
        return [document]
    if selector == "focus":
        found = focus_of(document)
        return [found] if found is not None else []
    entries = [e for e in document.get("entry") or [] if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    return [e["resource"] for e in entries if e["resource"].get("resourceType") == selector]


def focus_of(bundle: Any) -> dict[str, Any] | None:
    """The resource MessageHeader.focus[0] points at, by fullUrl or by ``Type/id``."""
    if not isinstance(bundle, dict):
        return None
    entries = [e for e in bundle.get("entry") or [] if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
    if not entries or entries[0]["resource"].get("resourceType") != "MessageHeader":
        return None
    focus = entries[0]["resource"].get("focus")
    reference = focus[0].get("reference") if isinstance(focus, list) and focus and isinstance(focus[0], dict) else None
    if not isinstance(reference, str):
        return None
    for entry in entries:
        if entry.get("fullUrl") == reference:
            resource: dict[str, Any] = entry["resource"]
            return resource
    kind, _, ident = reference.rstrip("/").rpartition("/")
    kind = kind.rpartition("/")[2]
    for entry in entries:
        resource = entry["resource"]
        if resource.get("resourceType") == kind and resource.get("id") == ident:
            return resource
    return None
