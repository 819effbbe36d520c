"""The receiver test suites as data, validated by these pydantic models at load.

Live TKW organises receiver testing by BaRS Application (1: 111/CAS to ED/UTC/SDEC, 3: 999 to CAS
referral, 4: 999 to CAS validation, 5: GP to community pharmacy, 6: CAD to CAD out of area), each
with a happy path and an error suite. The data says so:

* ``suite.yaml``: who TKW says it is, the default headers and payload edits, how every happy
  path starts (CapabilityStatement, MessageDefinition with the UCC context), and the **error
  templates**: the refusals every receiver must get right, written once and instantiated for each
  Application (``applies_to`` narrows one to some Applications).
* ``applications/app<N>.yaml``: one Application: its named **messages** (an IG example payload,
  the workflow it belongs to, its ``use-context`` and edits) and its **happy path** in workflow
  order. Error templates use the Application's messages (``message: primary``) and its ``values``
  (``@{name}`` placeholders, filled in at load). The Application's use-case category (UCC) and its
  workflows' use-context categories come from the Applications catalogue (:mod:`tkw.applications`),
  not from here.

Test ids in an Application file are local (``referral-new``); loading prefixes them with the
Application (``a5-referral-new``), so one catalogue holds every test. Loading checks the whole
(unique ids, dependencies point backwards, every ``${variable}`` is built in or captured by a
dependency, payload files exist), so a typo in the YAML fails at load, not in somebody's run.
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
# The BaRS Applications TKW tests receivers for, and the two suites each has.
ApplicationId = Literal["1", "3", "4", "5", "6"]
APPLICATION_IDS: tuple[ApplicationId, ...] = ("1", "3", "4", "5", "6")
SuiteKind = Literal["happy", "error"]
SUITE_KINDS: tuple[SuiteKind, ...] = ("happy", "error")
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
    # True for default edits that some payloads have nowhere to apply (a Patient without an NHS
    # number in the CAD examples); a test's own edit that writes nothing is a suite bug.
    optional: bool = False

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
    """What the answer must look like. ``status`` with ``bars_code`` is the refusal an error test expects."""

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
    application: ApplicationId
    suite: SuiteKind
    depends_on: list[TestId] = []
    request: RequestSpec
    expect: Expect


class Application(_Model):
    """One BaRS Application as the receiver suites use it (facts from its IG pages and examples)."""

    id: ApplicationId
    name: str
    description: str
    use_case: str = Field(pattern=r"^a\d+t\d+$")  # the UCC, usecases-categories-bars
    roles: str  # sender → receiver, as the IG names them


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
    applications: list[Application] = []
    tests: list[SuiteTest] = Field(min_length=1)

    @model_validator(mode="after")
    def _coherent(self) -> Suite:
        seen: dict[str, SuiteTest] = {}
        captured_by: dict[tuple[str, str], str] = {}
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
            for dep in test.depends_on:
                if seen[dep].application != test.application:
                    raise ValueError(f"{test.id}: depends_on {dep!r} belongs to another Application")
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
            # Captures are kept per Application in a run, so names need only be unique within one.
            for name in test.expect.capture:
                if (test.application, name) in captured_by or name in BUILTIN_VARIABLES:
                    raise ValueError(f"{test.id}: capture {name!r} is already defined")
                captured_by[(test.application, name)] = test.id
            seen[test.id] = test
        known = {a.id for a in self.applications}
        for test in self.tests:
            if self.applications and test.application not in known:
                raise ValueError(f"{test.id}: Application {test.application} is not described")
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

    def application(self, application_id: str) -> Application:
        for application in self.applications:
            if application.id == application_id:
                return application
        raise KeyError(application_id)

    def choose(self, application: str | None = None, suites: list[SuiteKind] | None = None) -> list[str]:
        """Ids of the tests of one Application (all when None) and suites (both when None)."""
        kinds = set(suites or SUITE_KINDS)
        return [t.id for t in self.tests if (application is None or t.application == application) and t.suite in kinds]

    def select(
        self,
        wanted: list[str] | None,
        application: str | None = None,
        suites: list[SuiteKind] | None = None,
    ) -> list[SuiteTest]:
        """The tests to run, in suite order, plus what they depend on.

        ``wanted`` names tests (all when None); ``application`` and ``suites`` choose by
        Application and suite instead, or narrow ``wanted`` (a named test outside them is an error:
        ``ValueError``). Unknown test ids raise ``KeyError``.
        """
        if wanted:
            unknown = [w for w in wanted if w not in self.ids]
            if unknown:
                raise KeyError(", ".join(unknown))
            if application is not None or suites:
                allowed = set(self.choose(application, suites))
                outside = [w for w in wanted if w not in allowed]
                if outside:
                    raise ValueError(
                        f"tests {', '.join(outside)} are not in "
                        + (f"Application {application} " if application else "")
                        + (f"suites {', '.join(suites)}" if suites else "")
                    )
        elif application is not None or suites:
            wanted = self.choose(application, suites)
            if not wanted:
                return []
        if not wanted:
            return list(self.tests)
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


PLACEHOLDER = re.compile(r"@\{([a-z_]+)\}")
_TEST_REF = re.compile(r"\$\{tests\.([a-z0-9-]+)\.bundle_id\}")


class SuiteDataError(ValueError):
    """Suite data that cannot be assembled (an unknown message or placeholder); says where."""


def _walk_strings(value: Any, change: Any) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [_walk_strings(v, change) for v in value]
    if isinstance(value, dict):
        return {k: _walk_strings(v, change) for k, v in value.items()}
    return value


def _instantiate(
    raw: dict[str, Any], application: dict[str, Any], kind: str, messages: dict[str, Any], values: dict[str, str]
) -> dict[str, Any]:
    """One test of one Application: placeholders filled, its message merged in, ids prefixed."""
    app_id = str(application["id"])
    known = {**values, "use_case": str(application.get("use_case", "")), "application": app_id}
    where = f"Application {app_id}, test {raw.get('id')!r}"
    test: dict[str, Any] = _fill({k: v for k, v in raw.items() if k != "applies_to"}, known, where)
    request = dict(test.get("request") or {})
    message_name = request.pop("message", None)
    if message_name is not None:
        if message_name not in messages:
            raise SuiteDataError(f"{where}: no message {message_name!r} (known: {', '.join(messages)})")
        message = messages[message_name]
        # A message is a $process-message POST.
        merged: dict[str, Any] = {"method": "POST", "path": "/$process-message"}
        merged.update({k: v for k, v in message.items() if k not in {"set", "headers"}})
        merged.update({k: v for k, v in request.items() if k not in {"set", "headers"}})
        merged["set"] = list(message.get("set") or []) + list(request.get("set") or [])
        merged["headers"] = {**(message.get("headers") or {}), **(request.get("headers") or {})}
        request = merged
    prefix = f"a{app_id}-"

    def prefixed(text: str) -> str:
        return _TEST_REF.sub(lambda m: "${tests." + prefix + m.group(1) + ".bundle_id}", text)

    request = _walk_strings(request, prefixed)
    if request.get("replay"):
        request["replay"] = prefix + request["replay"]
    test["request"] = request
    test["id"] = prefix + str(test.get("id"))
    test["depends_on"] = [prefix + d for d in test.get("depends_on") or []]
    test["application"] = app_id
    test["suite"] = kind
    return test


def _fill(value: Any, known: dict[str, str], where: str) -> Any:
    def one(found: re.Match[str]) -> str:
        if found.group(1) not in known:
            raise SuiteDataError(f"{where}: no value for @{{{found.group(1)}}}")
        return known[found.group(1)]

    return _walk_strings(value, lambda text: PLACEHOLDER.sub(one, text))


def _with_catalogue(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """An Application file completed from the Applications catalogue (:mod:`tkw.applications`).

    The catalogue is where an Application's use-case category (UCC) and its workflows' categories
    live; the suite data names the workflow each message belongs to and takes them from there:
    ``@{use_case}`` and, in a message, ``@{category}`` (its workflow's use-context category).
    Returns (application, messages, values).
    """
    from tkw.applications import get_catalogue

    catalogue = get_catalogue()
    application = dict(document["application"])
    app_id = str(application["id"])
    known = catalogue.application(int(app_id)) if app_id.isdigit() else None
    if known is None:
        raise SuiteDataError(f"Application {app_id} is not in the Applications catalogue")
    application["use_case"] = known.default_use_case
    values = {k: str(v) for k, v in (document.get("values") or {}).items()}
    values.setdefault("use_case", known.default_use_case)
    use_case = catalogue.use_case(known.default_use_case)
    values.setdefault("use_case_display", use_case.display if use_case else known.default_use_case)
    messages: dict[str, Any] = {}
    for name, raw in (document.get("messages") or {}).items():
        message = dict(raw)
        workflow = message.pop("workflow", None)
        spec = next((v for k, v in known.workflows.items() if k == workflow), None)
        where = f"Application {app_id}, message {name!r}"
        if spec is None or not spec.supported:
            raise SuiteDataError(
                f"{where}: workflow {workflow!r} is not one of the Application's ({', '.join(known.workflows)})"
            )
        messages[name] = _fill(message, {**values, "category": spec.category}, where)
        if name == "primary":
            values.setdefault("category", spec.category)
    other = catalogue.use_case(values.get("other_use_case"))
    if "other_use_case" in values and (other is None or str(other.application) == app_id):
        raise SuiteDataError(f"Application {app_id}: other_use_case must be another Application's use case")
    return application, messages, values


def assemble(common: dict[str, Any], applications: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole catalogue (as data for :class:`Suite`): each Application's happy path, then its error suite."""
    common = dict(common)
    openings: list[dict[str, Any]] = common.pop("happy_tests", None) or []
    templates: list[dict[str, Any]] = common.pop("error_tests", None) or []
    tests: list[dict[str, Any]] = []
    described: list[dict[str, Any]] = []
    for document in sorted(applications, key=lambda d: str(d["application"]["id"])):
        application, messages, values = _with_catalogue(document)
        described.append(application)
        for raw in openings + (document.get("happy") or []):
            tests.append(_instantiate(raw, application, "happy", messages, values))
        for raw in templates:
            if "applies_to" in raw and str(application["id"]) not in [str(a) for a in raw["applies_to"]]:
                continue
            tests.append(_instantiate(raw, application, "error", messages, values))
    return {**common, "applications": described, "tests": tests}


def parse_suite(text: str, applications: list[str] | None = None) -> Suite:
    """``suite.yaml`` text plus Application file texts: the validated catalogue.

    Without Application files, ``suite.yaml`` may carry ``tests`` itself (each naming its
    ``application`` and ``suite``): handy for small suites in tests.
    """
    common = yaml.safe_load(text)
    if applications is None:
        return Suite.model_validate(common)
    return Suite.model_validate(assemble(common, [yaml.safe_load(a) for a in applications]))


@cache
def load_suite() -> Suite:
    """The packaged suites (``tkw/receiver/suite.yaml`` and ``applications/``), validated once per process."""
    root = resources.files("tkw.receiver")
    folder = root.joinpath("applications")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)
    texts = [f.read_text(encoding="utf-8") for f in files]
    return parse_suite(root.joinpath("suite.yaml").read_text(encoding="utf-8"), texts)
