"""BaRS Applications as data (``applications.yaml``): services, use cases, workflows, payload rules.

Importable on its own by anything that needs to know what an Application is: the classifier, the
validation rules (:mod:`tkw.validation.application_rules`, :mod:`tkw.validation.ucc_rules`), reports and the
receiver suites. :func:`get_catalogue` loads and checks the table once per process;
:func:`judge` decides which Application and use case a request is judged against, and why.
"""

from tkw.applications.judge import Judgement, judge
from tkw.applications.model import (
    Application,
    Catalogue,
    PayloadRule,
    ServiceEntry,
    UseCase,
    WorkflowSpec,
    get_catalogue,
    load_catalogue,
)

__all__ = [
    "Application",
    "Catalogue",
    "Judgement",
    "PayloadRule",
    "ServiceEntry",
    "UseCase",
    "WorkflowSpec",
    "get_catalogue",
    "judge",
    "load_catalogue",
]
