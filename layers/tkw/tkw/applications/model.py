"""The schema of ``applications.yaml`` (named tuples: pydantic-free at run time) and its rules,
checked when the catalogue is built (:func:`check_catalogue`): every use case an Application or rule
names exists and belongs to it, every service names known Applications, rule ids are unique and each
rule has what its kind of check needs. ``make tables`` compiles it into ``applications.pickle`` (see
:mod:`tkw.tables`).
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, get_args

from tkw.tables import Table, TableError

if TYPE_CHECKING:
    from tkw.validation.findings import Severity  # one severity scale for every finding
else:
    # The request path never imports the findings (pydantic models, the report worker's side): a rule's
    # severity validates as a string and check_catalogue checks it against the findings' scale.
    Severity = str

# The workflows a message can be (tkw.scenarios.classify decides which); finer than the answer kinds.
Workflow = Literal[
    "booking-new",
    "booking-update",
    "booking-cancel",
    "referral-new",
    "referral-update",
    "referral-cancel",
    "validation-new",
    "validation-update",
    "validation-cancel",
    "validation-response-interim",
    "validation-response-full",
    "safeguarding-dna-response",
    "referral-response-status",
    "referral-response-rejection",
]
WORKFLOWS: tuple[str, ...] = Workflow.__args__  # type: ignore[attr-defined]
UseCaseStatus = Literal["active", "deprecated", "withdrawn"]
_RESOURCE_PATH = re.compile(r"^[A-Z][A-Za-z]+(\.[a-z][A-Za-z]*)+$")
_RULE_ID = re.compile(r"^app[0-9]\.[a-z0-9.-]+$")


class UseCase(NamedTuple):
    display: str
    application: int
    code: str = ""  # filled from the mapping key
    status: UseCaseStatus = "active"


class ServiceEntry(NamedTuple):
    name: str
    applications: list[int]  # at least one
    id: str = ""  # filled from the mapping key

    @property
    def dedicated(self) -> int | None:
        """The one Application this service answers as, or None when it serves several."""
        return self.applications[0] if len(self.applications) == 1 else None


class WorkflowSpec(NamedTuple):
    category: Literal["booking", "referral", "validation"]  # the use-context header's second part
    supported: bool = True
    why: str = ""  # when not supported: what the Application page says instead


# What each kind of payload check needs set.
_RULE_NEEDS: dict[str, tuple[str, ...]] = {
    "count": ("type",),
    "value": ("path", "values"),
    "coding": ("path", "system", "codes"),
    "reference": ("path", "to"),
    "present": ("path",),
}


class PayloadRule(NamedTuple):
    """One named check of an Application's payload, evaluated by tkw.validation.application_rules.

    ``count``: Bundle holds ``min``..``max`` resources of ``type``. ``value``: ``path`` has one of
    ``in`` (``values`` here). ``coding``: the CodeableConcept at ``path`` has a coding ``system`` with
    one of ``codes``. ``reference``: each reference at ``path`` resolves in the Bundle to one of ``to``.
    ``present``: ``path`` is there. ``quantifier`` all: every resource of the path's type must
    pass; any: one passing is enough. Missing elements fail unless ``required`` is false.
    """

    id: str  # app<N>.<name>
    says: str  # what a sender must do, as the Application page says it
    workflows: list[Workflow]  # at least one
    check: Literal["count", "value", "coding", "reference", "present"]
    use_cases: list[str] | None = None  # only for these use cases (None: every use case)
    path: str | None = None  # Type.element.sub, e.g. ServiceRequest.performer
    type: str | None = None  # count: the resource type
    min: int = 0
    max: int | None = None
    values: list[str] | None = None  # `in` in the YAML
    system: str | None = None
    codes: list[str] | None = None
    to: list[str] | None = None
    quantifier: Literal["all", "any"] = "all"
    required: bool = True
    severity: Severity = "error"

    @property
    def resource_type(self) -> str:
        return self.type if self.check == "count" and self.type else (self.path or "").split(".", 1)[0]


class Application(NamedTuple):
    number: int  # 1..9
    name: str
    default_use_case: str
    workflows: dict[Workflow, WorkflowSpec]
    pages: list[str] = []
    rules: list[PayloadRule] = []

    @property
    def title(self) -> str:
        return f"Application {self.number} ({self.name})"

    def rules_for(self, workflow: str, use_case: str | None) -> list[PayloadRule]:
        return [
            r
            for r in self.rules
            if workflow in r.workflows and (r.use_cases is None or (use_case is not None and use_case in r.use_cases))
        ]


class Catalogue(NamedTuple):
    version: Literal[1]
    use_case_system: str
    use_cases: dict[str, UseCase]
    services: dict[str, ServiceEntry]
    applications: list[Application]

    # -- lookups -----------------------------------------------------------------------------------

    def application(self, number: int | None) -> Application | None:
        return next((a for a in self.applications if a.number == number), None)

    def use_case(self, code: str | None) -> UseCase | None:
        return self.use_cases.get(code) if code else None

    def use_cases_of(self, number: int) -> list[str]:
        return [code for code, u in self.use_cases.items() if u.application == number]

    def service(self, service_id: str | None) -> ServiceEntry | None:
        return self.services.get(service_id) if service_id else None


# ---- building and checking ---------------------------------------------------------------------


def _prepare(data: Any) -> Any:
    """The YAML's spellings as the named tuples': mapping keys into their items (a use case's code, a
    service's id) and a rule's ``in`` as ``values`` (``in`` is a Python keyword)."""
    if not isinstance(data, dict):
        return data
    for name, key in (("use_cases", "code"), ("services", "id")):
        items = data.get(name)
        if isinstance(items, dict):
            data = {**data, name: {k: {**v, key: k} for k, v in items.items() if isinstance(v, dict)}}
    applications = data.get("applications")
    if isinstance(applications, list):
        data = {**data, "applications": [_rules_in_as_values(a) for a in applications]}
    return data


def _rules_in_as_values(application: Any) -> Any:
    rules = application.get("rules") if isinstance(application, dict) else None
    if not isinstance(rules, list):
        return application
    renamed = [
        {("values" if k == "in" else k): v for k, v in r.items()} if isinstance(r, dict) and "in" in r else r
        for r in rules
    ]
    return {**application, "rules": renamed}


def _check_rule(rule: PayloadRule) -> None:
    if not _RULE_ID.match(rule.id):
        raise TableError(f"rule {rule.id}: the id is app<N>.<lower-case name>")
    if not rule.says:
        raise TableError(f"rule {rule.id}: says what a sender must do")
    if not rule.workflows:
        raise TableError(f"rule {rule.id}: names at least one workflow")
    from tkw.validation.findings import Severity as Scale  # build time only, see Severity above

    if rule.severity not in get_args(Scale):
        raise TableError(f"rule {rule.id}: severity {rule.severity!r} is not one of {', '.join(get_args(Scale))}")
    missing = [name for name in _RULE_NEEDS[rule.check] if getattr(rule, name) is None]
    if missing:
        raise TableError(f"rule {rule.id}: a {rule.check} check needs {', '.join(missing)}")
    if rule.path is not None and not _RESOURCE_PATH.match(rule.path):
        raise TableError(f"rule {rule.id}: path {rule.path!r} is not ResourceType.element[.element]")


def check_catalogue(catalogue: Catalogue) -> None:
    """Every rule the YAML's types cannot express; raises :class:`TableError`."""
    for app in catalogue.applications:
        if not 1 <= app.number <= 9:
            raise TableError(f"Application {app.number}: Applications are numbered 1 to 9")
        for rule in app.rules:
            _check_rule(rule)
    numbers = {a.number for a in catalogue.applications}
    if len(numbers) != len(catalogue.applications):
        raise TableError("two Applications share a number")
    known = numbers | {u.application for u in catalogue.use_cases.values()}
    for service in catalogue.services.values():
        if not service.applications:
            raise TableError(f"service {service.id} names no Application")
        unknown = set(service.applications) - known
        if unknown:
            raise TableError(f"service {service.id} names unknown Applications {sorted(unknown)}")
    duplicates = [i for i, n in Counter(r.id for a in catalogue.applications for r in a.rules).items() if n > 1]
    if duplicates:
        raise TableError(f"duplicate rule ids: {duplicates}")
    for app in catalogue.applications:
        own = {code for code, u in catalogue.use_cases.items() if u.application == app.number}
        if app.default_use_case not in own:
            raise TableError(f"Application {app.number}: default use case {app.default_use_case} is not its own")
        for rule in app.rules:
            if not rule.id.startswith(f"app{app.number}."):
                raise TableError(f"rule {rule.id} belongs to Application {app.number}: name it app{app.number}.*")
            stray = set(rule.use_cases or ()) - own
            if stray:
                raise TableError(f"rule {rule.id}: use cases {sorted(stray)} are not Application {app.number}'s")
            unused = set(rule.workflows) - set(app.workflows)
            if unused:
                raise TableError(f"rule {rule.id}: Application {app.number} has no workflow {sorted(unused)}")


CATALOGUE_TABLE: Table[Catalogue] = Table(
    package="tkw.applications",
    source="applications.yaml",
    schema=Catalogue,
    check=check_catalogue,
    prepare=_prepare,
)


def load_catalogue(text: str | None = None) -> Catalogue:
    """``text`` parsed and checked when given, else ``applications.yaml`` (from its compiled artefact
    when that is current, see :mod:`tkw.tables`)."""
    return CATALOGUE_TABLE.load() if text is None else CATALOGUE_TABLE.parse(text)


@lru_cache(maxsize=1)
def get_catalogue() -> Catalogue:
    """The process-wide catalogue, loaded on first use."""
    return load_catalogue()
