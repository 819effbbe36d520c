"""What the rules read: the request as received plus views computed once and shared.

:class:`ValidationInput` is what the pipeline hands over. :class:`ValidationContext` adds lazily
computed views (the message Bundle's index of entries, the MessageHeader, the decoded target) so
that no rule parses or walks the body on its own.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from tkw.applications import Judgement
from tkw.encoded_headers import HeaderError, TargetIdentifier, decode_target_identifier
from tkw.fhir.message_body import MAX_BUNDLE_ENTRIES
from tkw.fhir.outcome import BarsError
from tkw.http import ApiRequest
from tkw.routes import Operation
from tkw.scenarios.classify import Classification, classify


@dataclass(frozen=True, slots=True)
class ValidationInput:
    operation: Operation
    request: ApiRequest
    # The parsed $process-message body; None lets validation parse ``request.body`` itself.
    body: dict[str, Any] | None = None
    # The decoded NHSD-Target-Identifier (the proxy checks decode it already); None: decode here.
    target: TargetIdentifier | None = None
    # The organisation already used this X-Request-Id within 24 h (the pipeline asks the store).
    seen_before: bool = False
    # The caller already validated ``body`` against the FHIR model and it passed: skip the ~3 ms
    # re-parse (fhir.resources is the costliest check by far).
    structure_validated: bool = False


@dataclass(frozen=True, slots=True)
class Entry:
    index: int
    full_url: str | None
    resource: dict[str, Any]

    @property
    def resource_type(self) -> str:
        value = self.resource.get("resourceType")
        return value if isinstance(value, str) else "?"

    @property
    def path(self) -> str:
        return f"Bundle.entry[{self.index}].resource({self.resource_type})"


class MessageBundle:
    """An index over a message Bundle's entries: by fullUrl, by ``Type/id``, by resource type."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        raw = data.get("entry")
        # Past MAX_BUNDLE_ENTRIES the request is refused as too costly (413) and only the first
        # ones are checked: checks per entry must not turn 5 MB of "{}," into minutes of work.
        self.raw_entries: list[Any] = raw[:MAX_BUNDLE_ENTRIES] if isinstance(raw, list) else []
        self.entries: list[Entry] = []
        self.by_full_url: dict[str, Entry] = {}
        self.by_type_id: dict[str, Entry] = {}
        for index, item in enumerate(self.raw_entries):
            if not isinstance(item, dict) or not isinstance(item.get("resource"), dict):
                continue
            full_url = item.get("fullUrl") if isinstance(item.get("fullUrl"), str) else None
            entry = Entry(index, full_url, item["resource"])
            self.entries.append(entry)
            if full_url:
                self.by_full_url.setdefault(full_url, entry)
            resource_id = entry.resource.get("id")
            if isinstance(resource_id, str) and resource_id:
                self.by_type_id.setdefault(f"{entry.resource_type}/{resource_id}", entry)
        self.counts: Counter[str] = Counter(e.resource_type for e in self.entries)

    @property
    def header(self) -> Entry | None:
        """The MessageHeader, when it is where FHIR requires it: the first entry."""
        first = self.entries[0] if self.entries else None
        return first if first is not None and first.index == 0 and first.resource_type == "MessageHeader" else None

    def of_type(self, resource_type: str) -> list[Entry]:
        return [e for e in self.entries if e.resource_type == resource_type]

    def resolve(self, reference: str) -> Entry | None:
        """The entry a reference points at: by fullUrl, else by a trailing ``Type/id``."""
        found = self.by_full_url.get(reference)
        if found is not None:
            return found
        parts = reference.split("/_history/", 1)[0].rstrip("/").split("/")
        if len(parts) >= 2:
            return self.by_type_id.get(f"{parts[-2]}/{parts[-1]}")
        return None


class ValidationContext:
    def __init__(self, inp: ValidationInput) -> None:
        self.input = inp
        self.operation = inp.operation
        self.request: ApiRequest = inp.request

    @cached_property
    def body(self) -> dict[str, Any] | None:
        """The body as a JSON object, or None when there is none or it is not a JSON object."""
        if self.input.body is not None:
            return self.input.body
        raw = self.request.body
        if not raw or not raw.strip():
            return None
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        return data if isinstance(data, dict) else None

    @cached_property
    def bundle(self) -> MessageBundle | None:
        body = self.body
        if body is None or body.get("resourceType") != "Bundle":
            return None
        return MessageBundle(body)

    @cached_property
    def header(self) -> dict[str, Any] | None:
        bundle = self.bundle
        entry = bundle.header if bundle is not None else None
        return entry.resource if entry is not None else None

    @cached_property
    def event_code(self) -> str | None:
        header = self.header or {}
        coding = header.get("eventCoding")
        code = coding.get("code") if isinstance(coding, dict) else None
        return code if isinstance(code, str) else None

    @cached_property
    def reason_code(self) -> str | None:
        header = self.header or {}
        reason = header.get("reason")
        codings = reason.get("coding") if isinstance(reason, dict) else None
        for coding in codings if isinstance(codings, list) else ():
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                return str(coding["code"])
        return None

    @cached_property
    def classification(self) -> Classification | None:
        """The message's workflow and use case (None: not a message, or one no workflow fits)."""
        body = self.body
        if self.operation is not Operation.PROCESS_MESSAGE or body is None:
            return None
        try:
            return classify(body)
        except (BarsError, RecursionError):
            return None

    @cached_property
    def judgement(self) -> Judgement:
        """Which Application and use case the request is judged against, and why."""
        from tkw.validation.application_rules import judge_request

        return judge_request(self)

    @cached_property
    def target(self) -> TargetIdentifier | None:
        if self.input.target is not None:
            return self.input.target
        raw = self.request.header("NHSD-Target-Identifier")
        if raw is None or not raw.strip():
            return None
        try:
            return decode_target_identifier(raw)
        except HeaderError:
            return None
