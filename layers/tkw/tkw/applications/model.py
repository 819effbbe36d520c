"""The schema of ``applications.yaml``, checked at load: every use case an Application or rule names
exists and belongs to it, every service names known Applications, rule ids are unique and each rule
has what its kind of check needs.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tkw.validation.findings import Severity  # one severity scale for every finding

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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UseCase(_Strict):
    code: str = ""  # filled from the mapping key
    display: str
    application: int
    status: UseCaseStatus = "active"


class ServiceEntry(_Strict):
    id: str = ""  # filled from the mapping key
    name: str
    applications: list[int] = Field(min_length=1)

    @property
    def dedicated(self) -> int | None:
        """The one Application this service answers as, or None when it serves several."""
        return self.applications[0] if len(self.applications) == 1 else None


class WorkflowSpec(_Strict):
    category: Literal["booking", "referral", "validation"]  # the use-context header's second part
    supported: bool = True
    why: str = ""  # when not supported: what the Application page says instead


class PayloadRule(_Strict):
    """One named check of an Application's payload, evaluated by tkw.validation.application_rules.

    ``count``: Bundle holds ``min``..``max`` resources of ``type``. ``value``: ``path`` has one of
    ``in``. ``coding``: the CodeableConcept at ``path`` has a coding ``system`` with one of
    ``codes``. ``reference``: each reference at ``path`` resolves in the Bundle to one of ``to``.
    ``present``: ``path`` is there. ``quantifier`` all: every resource of the path's type must
    pass; any: one passing is enough. Missing elements fail unless ``required`` is false.
    """

    id: str = Field(pattern=r"^app[0-9]\.[a-z0-9.-]+$")
    says: str = Field(min_length=1)  # what a sender must do, as the Application page says it
    workflows: list[Workflow] = Field(min_length=1)
    use_cases: list[str] | None = None  # only for these use cases (None: every use case)
    check: Literal["count", "value", "coding", "reference", "present"]
    path: str | None = None  # Type.element.sub, e.g. ServiceRequest.performer
    type: str | None = None  # count: the resource type
    min: int = 0
    max: int | None = None
    values: list[str] | None = Field(default=None, alias="in")
    system: str | None = None
    codes: list[str] | None = None
    to: list[str] | None = None
    quantifier: Literal["all", "any"] = "all"
    required: bool = True
    severity: Severity = "error"

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _complete(self) -> PayloadRule:
        needs: dict[str, tuple[str, ...]] = {
            "count": ("type",),
            "value": ("path", "values"),
            "coding": ("path", "system", "codes"),
            "reference": ("path", "to"),
            "present": ("path",),
        }
        missing = [name for name in needs[self.check] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"rule {self.id}: a {self.check} check needs {', '.join(missing)}")
        if self.path is not None and not _RESOURCE_PATH.match(self.path):
            raise ValueError(f"rule {self.id}: path {self.path!r} is not ResourceType.element[.element]")
        return self

    @property
    def resource_type(self) -> str:
        return self.type if self.check == "count" and self.type else (self.path or "").split(".", 1)[0]


class Application(_Strict):
    number: int = Field(ge=1, le=9)
    name: str
    pages: list[str] = Field(default_factory=list)  # seed/applications/ pages the rules come from
    default_use_case: str
    workflows: dict[Workflow, WorkflowSpec]
    rules: list[PayloadRule] = Field(default_factory=list)

    @property
    def title(self) -> str:
        return f"Application {self.number} ({self.name})"

    def rules_for(self, workflow: str, use_case: str | None) -> list[PayloadRule]:
        return [
            r
            for r in self.rules
            if workflow in r.workflows and (r.use_cases is None or (use_case is not None and use_case in r.use_cases))
        ]


class Catalogue(_Strict):
    version: Literal[1]
    use_case_system: str
    use_cases: dict[str, UseCase]
    services: dict[str, ServiceEntry]
    applications: list[Application]

    @model_validator(mode="before")
    @classmethod
    def _keys_into_items(cls, data: object) -> object:
        if isinstance(data, dict):
            for name, key in (("use_cases", "code"), ("services", "id")):
                items = data.get(name)
                if isinstance(items, dict):
                    data = {**data, name: {k: {**v, key: k} for k, v in items.items() if isinstance(v, dict)}}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        numbers = {a.number for a in self.applications}
        if len(numbers) != len(self.applications):
            raise ValueError("two Applications share a number")
        known = numbers | {u.application for u in self.use_cases.values()}
        for service in self.services.values():
            unknown = set(service.applications) - known
            if unknown:
                raise ValueError(f"service {service.id} names unknown Applications {sorted(unknown)}")
        duplicates = [i for i, n in Counter(r.id for a in self.applications for r in a.rules).items() if n > 1]
        if duplicates:
            raise ValueError(f"duplicate rule ids: {duplicates}")
        for app in self.applications:
            own = {code for code, u in self.use_cases.items() if u.application == app.number}
            if app.default_use_case not in own:
                raise ValueError(f"Application {app.number}: default use case {app.default_use_case} is not its own")
            for rule in app.rules:
                if not rule.id.startswith(f"app{app.number}."):
                    raise ValueError(f"rule {rule.id} belongs to Application {app.number}: name it app{app.number}.*")
                stray = set(rule.use_cases or ()) - own
                if stray:
                    raise ValueError(f"rule {rule.id}: use cases {sorted(stray)} are not Application {app.number}'s")
                unused = set(rule.workflows) - set(app.workflows)
                if unused:
                    raise ValueError(f"rule {rule.id}: Application {app.number} has no workflow {sorted(unused)}")
        return self

    # -- lookups -----------------------------------------------------------------------------------

    def application(self, number: int | None) -> Application | None:
        return next((a for a in self.applications if a.number == number), None)

    def use_case(self, code: str | None) -> UseCase | None:
        return self.use_cases.get(code) if code else None

    def use_cases_of(self, number: int) -> list[str]:
        return [code for code, u in self.use_cases.items() if u.application == number]

    def service(self, service_id: str | None) -> ServiceEntry | None:
        return self.services.get(service_id) if service_id else None


def load_catalogue(text: str | None = None) -> Catalogue:
    """Parse and check ``applications.yaml`` (or ``text``)."""
    if text is None:
        text = resources.files("tkw.applications").joinpath("applications.yaml").read_text(encoding="utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return Catalogue.model_validate(yaml.load(text, Loader=loader))  # noqa: S506


@lru_cache(maxsize=1)
def get_catalogue() -> Catalogue:
    """The process-wide catalogue, loaded and checked on first use."""
    return load_catalogue()
