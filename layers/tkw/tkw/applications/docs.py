"""The Application table as Markdown (``docs/applications.md`` is its output; a test keeps it current)."""

from __future__ import annotations

from tkw.applications.model import Catalogue, PayloadRule, get_catalogue

_INTRO = """# BaRS Applications and use-case categories (UCC)

Generated from `layers/tkw/tkw/applications/applications.yaml` (do not edit by hand; a test checks it
is current). Every request is **judged** against one Application and use case, and its report says
which and why (`judged_against` in the report JSON, "Judged against" in the HTML, the
`application.judged` finding):

1. a target that is a TKW service of one Application decides it (table below);
2. otherwise the use case the message carries (ServiceRequest.category or Appointment.serviceCategory),
   then the `use-context` header's, then a MessageDefinition search's `context` use case; a use case
   whose Application has no such workflow does not decide it;
3. otherwise the workflow: bookings and referrals are Application 1, validations Application 4.

The use case is then the first one named in the request that belongs to that Application, else the
Application's default. Checks: `application.workflow` (the workflow is one the Application uses),
each payload rule below by its id, `header.use-context*` (the header against the message and the
Application), `ucc.payload` (one current use case of the Application, lower case: the CodeSystem is
case-sensitive), `ucc.context` (a MessageDefinition search's use case is the target's).
"""


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _rule_text(rule: PayloadRule) -> str:
    match rule.check:
        case "count":
            return f"{rule.type} {rule.min}..{'*' if rule.max is None else rule.max}"
        case "value":
            return f"`{rule.path}` in {', '.join(rule.values or ())}"
        case "coding":
            return f"`{rule.path}` has {rule.system}\\|{', '.join(rule.codes or ())}"
        case "reference":
            return f"`{rule.path}` → {' or '.join(rule.to or ())}"
        case _:
            return f"`{rule.path}` present"


def render_markdown(catalogue: Catalogue | None = None) -> str:
    catalogue = catalogue or get_catalogue()
    lines = [_INTRO, "## TKW services", "", "| Service | Name | Applications |", "|---|---|---|"]
    for service in catalogue.services.values():
        apps = ", ".join(str(n) for n in service.applications)
        lines.append(f"| {service.id} | {_cell(service.name)} | {apps} |")
    lines += ["", "## Use cases (usecases-categories-bars)", "", "| Code | Display | Application | Status |"]
    lines.append("|---|---|---|---|")
    for use_case in catalogue.use_cases.values():
        lines.append(f"| {use_case.code} | {_cell(use_case.display)} | {use_case.application} | {use_case.status} |")
    for app in catalogue.applications:
        lines += ["", f"## {app.title}", "", f"Default use case {app.default_use_case}. Sources: "]
        lines[-1] += ", ".join(f"`seed/applications/{p}`" for p in app.pages) + "."
        lines += ["", "| Workflow | use-context category | Supported |", "|---|---|---|"]
        for name, spec in app.workflows.items():
            lines.append(f"| {name} | {spec.category} | {'yes' if spec.supported else _cell('no: ' + spec.why)} |")
        if app.rules:
            lines += ["", "| Check | Workflows | Rule | Severity | What the page says |", "|---|---|---|---|---|"]
            for rule in app.rules:
                scope = ", ".join(rule.workflows) + (f" ({', '.join(rule.use_cases)})" if rule.use_cases else "")
                quantifier = " (any)" if rule.quantifier == "any" else ""
                lines.append(
                    f"| `{rule.id}` | {scope} | {_rule_text(rule)}{quantifier} | {rule.severity} | {_cell(rule.says)} |"
                )
    return "\n".join(lines) + "\n"
