"""Application rules: the Application and use case a request is judged against, and that
Application's payload rules (``tkw/applications/applications.yaml``) as named findings.

Every report states its judgement (``application.judged``, information). For a message, the
workflow must be one the Application has (``application.workflow``), and each payload rule of the
Application for that workflow and use case gives a finding named by the rule's id
(``app5.referral.performer``, ...), located at the element it is about.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tkw.applications import Application, Judgement, PayloadRule, get_catalogue, judge
from tkw.encoded_headers import TargetIdentifier
from tkw.http import ApiRequest
from tkw.routes import Operation
from tkw.scenarios.classify import use_case_of
from tkw.validation.context import Entry, MessageBundle, ValidationContext, ValidationInput
from tkw.validation.findings import Finding
from tkw.validation.registry import RuleSet

RULES = RuleSet("application")
_ONLY = {Operation.PROCESS_MESSAGE}


def header_use_case(ctx: ValidationContext) -> str | None:
    """The first part of the ``use-context`` header, when it has one."""
    raw = (ctx.request.header("use-context") or "").strip()
    first = raw.split("|", 1)[0].strip()
    return first or None


def context_use_case(ctx: ValidationContext) -> str | None:
    """The use case a MessageDefinition search names as a second ``context``."""
    if ctx.operation is not Operation.MESSAGE_DEFINITION_SEARCH:
        return None
    system = get_catalogue().use_case_system
    for raw in ctx.request.params("context"):
        named, _, value = raw.strip().rpartition("|")
        if named.strip().lower().replace("http://", "https://") == system.lower() and value.strip():
            return value.strip()
    return None


def judge_request(ctx: ValidationContext) -> Judgement:
    found = ctx.classification
    payload_use_case = found.use_case if found is not None else None
    if found is None and ctx.bundle is not None:  # unclassifiable: still read the use case it names
        for entry in ctx.bundle.of_type("ServiceRequest"):
            payload_use_case = payload_use_case or use_case_of(entry.resource)
    target = ctx.target
    return judge(
        target=target.value if target is not None else None,
        workflow=found.workflow if found is not None else None,
        payload_use_case=payload_use_case,
        header_use_case=header_use_case(ctx) if ctx.operation is Operation.PROCESS_MESSAGE else None,
        context_use_case=context_use_case(ctx),
    )


def judgement_for(
    operation: Operation,
    request: ApiRequest,
    target: TargetIdentifier | None = None,
    body: dict[str, Any] | None = None,
) -> Judgement:
    """The judgement of one request, outside a validation run (e.g. for the report record)."""
    return ValidationContext(ValidationInput(operation, request, body, target)).judgement


@RULES.rule("application.judged", "Which Application and use case the request is judged against, and why")
def judged(ctx: ValidationContext) -> Iterator[Finding]:
    judgement = ctx.judgement
    yield RULES.passed(
        "application.judged",
        f"Judged against {judgement.title}: {judgement.why}.",
        severity="info",
    )


def _application(ctx: ValidationContext) -> Application | None:
    return get_catalogue().application(ctx.judgement.application)


@RULES.rule("application.workflow", "The message's workflow is one its Application uses", _ONLY)
def workflow(ctx: ValidationContext) -> Iterator[Finding]:
    found, application = ctx.classification, _application(ctx)
    if found is None or application is None:
        return
    spec = application.workflows.get(found.workflow)  # type: ignore[call-overload]
    location = "Bundle.entry[0].resource(MessageHeader)"
    if spec is None:
        uses = ", ".join(application.workflows)
        yield RULES.failed(
            "application.workflow",
            f"A {found.workflow} is not part of {application.title} (it uses {uses}); check the target and "
            "the use case.",
            location,
            issue_code="business-rule",
        )
    elif not spec.supported:
        yield RULES.failed(
            "application.workflow", f"{spec.why}.", location, issue_code="not-supported", bars_code="REC_BAD_REQUEST"
        )
    else:
        yield RULES.passed("application.workflow", f"A {found.workflow} is part of {application.title}.", location)


# -- the payload rules, evaluated from the table ------------------------------------------------


def _walk(node: Any, parts: list[str], path: str) -> Iterator[tuple[str, Any]]:
    """Every value at ``parts`` under ``node``, with its element path (lists expanded as [i])."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, parts, f"{path}[{index}]")
        return
    if not parts:
        if node not in (None, "", [], {}):
            yield path, node
        return
    if isinstance(node, dict):
        yield from _walk(node.get(parts[0]), parts[1:], f"{path}.{parts[0]}")


def _values(entry: Entry, rule: PayloadRule) -> list[tuple[str, Any]]:
    return list(_walk(entry.resource, (rule.path or "").split(".")[1:], entry.path))


def _codings(concept: Any) -> list[dict[str, Any]]:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return [c for c in codings if isinstance(c, dict)] if isinstance(codings, list) else []


def _resource_passes(entry: Entry, rule: PayloadRule, bundle: MessageBundle) -> tuple[bool, str, str]:
    """Whether one resource satisfies the rule, where, and what was found."""
    values = _values(entry, rule)
    where = f"{entry.path}.{(rule.path or '').split('.', 1)[1]}"
    if not values:
        return (not rule.required and rule.check == "reference"), where, f"{rule.path} is missing"
    if rule.check == "present":
        return True, values[0][0], f"{rule.path} is present"
    if rule.check == "value":
        allowed = set(rule.values or ())
        good = [(p, v) for p, v in values if isinstance(v, str | int | bool) and str(v) in allowed]
        shown = ", ".join(repr(v) for _, v in values[:3])
        return bool(good), (good or values)[0][0], f"{rule.path} is {shown}"
    if rule.check == "coding":
        codes = set(rule.codes or ())
        for location, concept in values:
            if any(c.get("system") == rule.system and c.get("code") in codes for c in _codings(concept)):
                return True, location, f"{rule.path} has {rule.system}|{'/'.join(sorted(codes))}"
        found = [f"{c.get('system')}|{c.get('code')}" for _, concept in values for c in _codings(concept)]
        return False, values[0][0], f"{rule.path} has {', '.join(found[:3]) or 'no coding'}"
    # reference: every reference resolves in the Bundle to an allowed type
    allowed = set(rule.to or ())
    for location, value in values:
        reference = value.get("reference") if isinstance(value, dict) else None
        target = bundle.resolve(reference) if isinstance(reference, str) else None
        if target is None:
            return False, location, f"{location} does not resolve to an entry of the Bundle"
        if target.resource_type not in allowed:
            return False, location, f"{location} points at a {target.resource_type} (Bundle.entry[{target.index}])"
    return True, values[0][0], f"{rule.path} points at {' or '.join(sorted(allowed))}"


def evaluate(rule: PayloadRule, bundle: MessageBundle) -> Iterator[Finding]:
    """The findings of one payload rule on one Bundle."""
    kind = rule.resource_type
    entries = bundle.of_type(kind)
    if rule.check == "count":
        count = len(entries)
        ok = count >= rule.min and (rule.max is None or count <= rule.max)
        wanted = f"{rule.min}..{'*' if rule.max is None else rule.max}"
        if ok:
            yield RULES.passed(rule.id, f"{rule.says} ({kind} {wanted}; the Bundle has {count}).", "Bundle.entry")
        else:
            yield RULES.failed(
                rule.id,
                f"{rule.says}: {kind} {wanted} expected; the Bundle has {count}.",
                "Bundle.entry",
                severity=rule.severity,
                issue_code="required" if count < rule.min else "invariant",
            )
        return
    if not entries:
        if rule.required:
            yield RULES.failed(
                rule.id,
                f"{rule.says}: the Bundle has no {kind}.",
                "Bundle.entry",
                severity=rule.severity,
                issue_code="required",
            )
        return
    results = [(entry, *_resource_passes(entry, rule, bundle)) for entry in entries]
    passing = [r for r in results if r[1]]
    if rule.quantifier == "any":
        if passing:
            yield RULES.passed(rule.id, f"{rule.says}.", passing[0][2])
        else:
            found = "; ".join(r[3] for r in results[:3])
            yield RULES.failed(
                rule.id, f"{rule.says}: {found}.", results[0][2], severity=rule.severity, issue_code="invariant"
            )
        return
    failing = [r for r in results if not r[1]]
    for _entry, _ok, location, found in failing:
        yield RULES.failed(rule.id, f"{rule.says}: {found}.", location, severity=rule.severity, issue_code="invariant")
    if not failing:
        yield RULES.passed(rule.id, f"{rule.says}.", results[0][2])


@RULES.rule("application.payload", "The payload follows its Application's rules (applications.yaml)", _ONLY)
def payload(ctx: ValidationContext) -> Iterator[Finding]:
    found, application, bundle = ctx.classification, _application(ctx), ctx.bundle
    if found is None or application is None or bundle is None:
        return
    for rule in application.rules_for(found.workflow, ctx.judgement.use_case):
        yield from evaluate(rule, bundle)


__all__ = ["RULES", "context_use_case", "evaluate", "header_use_case", "judge_request", "judgement_for"]
