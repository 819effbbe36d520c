"""The receiver test suite as data: ``suite.yaml`` validated by these pydantic models at load.

A test names the request TKW sends to the receiver under test (a BaRS payload from
``payloads/`` plus edits, or a search), its headers, and what the answer must look like. Tests may
depend on earlier ones: ``booking-get`` reads the Appointment id that ``booking-new`` captured.
Loading checks the data as a whole (unique ids, dependencies point backwards, every ``${variable}``
is either built in or captured by a dependency, payload files exist), so a typo in the YAML fails
at load, not halfway through somebody's run.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from tkw.receiver import paths

Severity = Literal["error", "warning"]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
TestId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]

VARIABLE = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")
# Values the runner provides to every test (see tkw.receiver.builder.RunVariables).
BUILTIN_VARIABLES = frozenset(
    {
        "uuid",
        "now",
        "bundle_id",
        "target",
        "target_system",
        "target_token",
        "target_header",
        "end_user_organisation",
        "requesting_software",
        "window_start",
        "window_end",
        "slot_start",
        "slot_end",
        "nhs_number",
    }
)
# ``${tests.<test id>.bundle_id}``: the Bundle.id another test of this run sent.
TEST_BUNDLE_ID = re.compile(r"^tests\.([a-z0-9-]+)\.bundle_id$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SetOp(_Model):
    """Write ``value`` at ``path`` in the selected part of a message payload.

    ``select``: ``Bundle`` (the payload root), ``focus`` (the resource MessageHeader.focus points
    at) or a resource type (every entry of that type).
    """

    select: str
    path: str
    value: Any

    @field_validator("path")
    @classmethod
    def _path_parses(cls, value: str) -> str:
        paths.parse(value)
        return value


class QueryParam(_Model):
    name: str
    value: str


class RequestSpec(_Model):
    method: Method
    path: str = Field(pattern=r"^/")
    query: list[QueryParam] = []
    payload: str | None = None  # a file in tkw/receiver/payloads/
    body: str | None = None  # raw body text, sent as is (malformed-input tests)
    set: list[SetOp] = []
    use_context: str | None = None
    # Header overrides; null removes a default header (e.g. X-Request-Id for the negative test).
    headers: dict[str, str | None] = {}
    # Send again exactly what another test sent (same X-Request-Id): the duplicate-request test.
    replay: TestId | None = None

    @model_validator(mode="after")
    def _one_body(self) -> RequestSpec:
        if self.payload and self.body is not None:
            raise ValueError("a request has either a payload or a raw body, not both")
        if self.set and not self.payload:
            raise ValueError("`set` edits a payload; name one")
        return self


class PathCheck(_Model):
    """An element of the answer must be present (``equals`` omitted) or equal a value.

    ``path`` starts at the answer body, or at the message's focus resource with ``focus.``.
    """

    id: TestId
    path: str
    equals: str | None = None
    severity: Severity = "error"
    why: str = ""

    @field_validator("path")
    @classmethod
    def _path_parses(cls, value: str) -> str:
        paths.parse(value.removeprefix("focus."))
        return value


class Expect(_Model):
    status: int = Field(ge=100, le=599)
    resource_type: str | None = None
    bundle_type: str | None = None
    focus_type: str | None = None  # message Bundles: what MessageHeader.focus must resolve to
    entry_types: list[str] | None = None  # searchsets: every entry's resource is one of these
    bars_code: str | None = None  # errors: OperationOutcome details.coding code
    issue_code: str | None = None  # errors: the FHIR IssueType expected (a warning if different)
    allow_header: bool = False  # 405s: an Allow header naming the supported methods
    capture: dict[str, str] = {}  # variable -> path in the answer (``focus.id``)
    paths: list[PathCheck] = []


class SuiteTest(_Model):
    id: TestId
    name: str
    description: str
    group: str
    depends_on: list[TestId] = []
    request: RequestSpec
    expect: Expect


class Sender(_Model):
    """Who TKW says it is when it calls the receiver (the NHSD-* identity headers)."""

    ods_code: str
    organisation_name: str
    software_identifier_system: str
    software_identifier: str
    software_name: str
    software_version: str


class Defaults(_Model):
    headers: dict[str, str]
    message_set: list[SetOp] = []  # edits applied to every message payload before the test's own
    max_response_ms: int = Field(default=5000, ge=1)
    slot_window_days: int = Field(default=7, ge=1, le=31)


class Suite(_Model):
    name: str
    version: str
    nhs_number: str = Field(pattern=r"^\d{10}$")
    sender: Sender
    defaults: Defaults
    tests: list[SuiteTest] = Field(min_length=1)

    @model_validator(mode="after")
    def _coherent(self) -> Suite:
        seen: dict[str, SuiteTest] = {}
        captured_by: dict[str, str] = {}
        for test in self.tests:
            if test.id in seen:
                raise ValueError(f"test id {test.id!r} is used twice")
            for dep in test.depends_on:
                if dep not in seen:
                    raise ValueError(f"{test.id}: depends_on {dep!r} must name an earlier test")
            if test.request.replay and test.request.replay not in test.depends_on:
                raise ValueError(f"{test.id}: replay {test.request.replay!r} must also be in depends_on")
            if test.request.payload and not _payload_exists(test.request.payload):
                raise ValueError(f"{test.id}: payload {test.request.payload!r} is not in tkw/receiver/payloads")
            available = set(BUILTIN_VARIABLES)
            for dep in self._closure(test, seen):
                available.update(seen[dep].expect.capture)
            for name in _variables_of(test):
                ref = TEST_BUNDLE_ID.match(name)
                if ref:
                    if ref.group(1) not in seen:
                        raise ValueError(f"{test.id}: ${{{name}}} must name an earlier test")
                elif name not in available:
                    raise ValueError(f"{test.id}: ${{{name}}} is neither built in nor captured by a test it depends on")
            for name in test.expect.capture:
                if name in captured_by or name in BUILTIN_VARIABLES:
                    raise ValueError(f"{test.id}: capture {name!r} is already defined")
                captured_by[name] = test.id
            seen[test.id] = test
        return self

    @staticmethod
    def _closure(test: SuiteTest, seen: dict[str, SuiteTest]) -> set[str]:
        out: set[str] = set()
        stack = list(test.depends_on)
        while stack:
            dep = stack.pop()
            if dep not in out:
                out.add(dep)
                stack.extend(seen[dep].depends_on)
        return out

    def test(self, test_id: str) -> SuiteTest:
        for test in self.tests:
            if test.id == test_id:
                return test
        raise KeyError(test_id)

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.tests]

    def select(self, wanted: list[str] | None) -> list[SuiteTest]:
        """The tests to run, in suite order: ``wanted`` (all when None) plus what they depend on."""
        if not wanted:
            return list(self.tests)
        unknown = [w for w in wanted if w not in self.ids]
        if unknown:
            raise KeyError(", ".join(unknown))
        by_id = {t.id: t for t in self.tests}
        chosen: set[str] = set()
        stack = list(wanted)
        while stack:
            current = stack.pop()
            if current not in chosen:
                chosen.add(current)
                stack.extend(by_id[current].depends_on)
        return [t for t in self.tests if t.id in chosen]


def _variables_of(test: SuiteTest) -> set[str]:
    request = test.request
    texts: list[Any] = [request.path, request.body, request.use_context]
    texts += [q.value for q in request.query]
    texts += list(request.headers.values())
    texts += [op.value for op in request.set]
    texts += [p.equals for p in test.expect.paths]
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.update(VARIABLE.findall(value))
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(texts)
    return found


def _payload_exists(name: str) -> bool:
    return "/" not in name and resources.files("tkw.receiver").joinpath("payloads").joinpath(name).is_file()


@cache
def _payload_text(name: str) -> str:
    return resources.files("tkw.receiver").joinpath("payloads").joinpath(name).read_text(encoding="utf-8")


def load_payload(name: str) -> Any:
    """A fresh (mutable) copy of a payload."""
    return json.loads(_payload_text(name))


def parse_suite(text: str) -> Suite:
    return Suite.model_validate(yaml.safe_load(text))


@cache
def load_suite() -> Suite:
    """The packaged suite (``tkw/receiver/suite.yaml``), validated once per process."""
    return parse_suite(resources.files("tkw.receiver").joinpath("suite.yaml").read_text(encoding="utf-8"))
