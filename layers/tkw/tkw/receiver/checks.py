"""Checks on a receiver's answer. Each says precisely what was expected and what was found.

The answer is judged as a BaRS sender (and the proxy) would: the status, a valid FHIR body
(fhir.resources R4B, the closest to R4 4.0.1 it ships), the resource and Bundle type, the
OperationOutcome shape and BaRS code of errors, the echoed transaction headers, the ids the
receiver assigned, and the time it took.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tkw.receiver import paths
from tkw.receiver.builder import PreparedRequest, focus_of
from tkw.receiver.models import CheckResult
from tkw.receiver.suite import Expect, Severity
from tkw.receiver.transport import Answer

ERROR_CODE_SYSTEMS = (
    "https://fhir.nhs.uk/Codesystem/http-error-codes",  # the spelling of the official examples
    "https://fhir.nhs.uk/CodeSystem/http-error-codes",  # the IG's spelling: accepted too
)
FHIR_JSON = "application/fhir+json"
_SHOWN = 160  # characters of a body quoted in a message
MAX_PROFILE_CHECKS = 20  # profile findings listed per answer (the rest are counted)


@dataclass
class Judgement:
    checks: list[CheckResult] = field(default_factory=list)
    captures: dict[str, str] = field(default_factory=dict)

    def add(self, check_id: str, passed: bool, message: str, severity: Severity = "error") -> None:
        self.checks.append(CheckResult(id=check_id, passed=passed, severity=severity, message=message))

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed and c.severity == "error"]


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "…")


def _show(value: Any) -> str:
    if value is paths.MISSING:
        return "nothing (absent)"
    if isinstance(value, str):
        return repr(value)
    return _quote(json.dumps(value, ensure_ascii=False))


def _what(body: Any) -> str:
    """A short description of a body, for "found ..." messages."""
    if isinstance(body, dict) and isinstance(body.get("resourceType"), str):
        return f"a {body['resourceType']}"
    if body is None:
        return "no JSON body"
    return f"JSON without resourceType {_quote(json.dumps(body, ensure_ascii=False))}"


def parse_json(answer: Answer) -> tuple[Any, str | None]:
    """(parsed body or None, why it is not JSON)."""
    if not answer.body.strip():
        return None, "an empty body"
    try:
        return json.loads(answer.body.decode("utf-8")), None
    except UnicodeDecodeError:
        return None, "a body that is not UTF-8"
    except ValueError:
        return None, f"a body that is not JSON: {_quote(answer.body.decode('utf-8', 'replace'))}"


def fhir_problem(body: Any) -> str | None:
    """None when ``body`` validates as the FHIR resource it claims to be, else what is wrong."""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        return f"{_what(body)}"
    kind = body["resourceType"]
    try:
        model = get_fhir_model_class(kind)
    except (KeyError, ValueError, ImportError, AttributeError):
        return f"resourceType {kind!r}, which is not a FHIR R4 resource"
    try:
        model.model_validate(body)
    except ValidationError as err:
        errors = err.errors()
        shown = "; ".join(f"{kind}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:3])
        more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
        return f"an invalid {kind}: {shown}{more}"
    except (ValueError, TypeError) as err:
        return f"an invalid {kind}: {err}"
    return None


def judge(
    expect: Expect,
    request: PreparedRequest,
    answer: Answer,
    variables: Mapping[str, str],
    max_response_ms: int,
) -> Judgement:
    result = Judgement()
    result.add(
        "status",
        answer.status == expect.status,
        # A refusal names its BaRS code with the status, so the one-line summary says what was due.
        f"expected HTTP {expect.status}{' ' + expect.bars_code if expect.bars_code else ''}, found HTTP {answer.status}"
        + (f" ({_error_code_text(answer)})" if answer.status != expect.status and answer.status >= 400 else ""),
    )

    content_type = (answer.header("Content-Type") or "").split(";")[0].strip().lower()
    result.add(
        "content-type",
        content_type == FHIR_JSON,
        f"expected Content-Type {FHIR_JSON}, found {content_type or 'none'}",
        "warning",
    )

    body, not_json = parse_json(answer)
    problem = not_json or fhir_problem(body)
    if not_json:
        found = not_json
    elif problem:
        found = problem
    else:
        found = f"a valid {body['resourceType']}"
    result.add(
        "fhir-valid",
        problem is None,
        f"expected a valid FHIR R4 resource (checked with fhir.resources R4B), found {found}",
    )

    if problem is None:
        _judge_profiles(result, body)

    kind = body.get("resourceType") if isinstance(body, dict) else None
    if expect.resource_type:
        result.add(
            "resource-type",
            kind == expect.resource_type,
            f"expected resourceType {expect.resource_type}, found {kind or _what(body)}",
        )
    if expect.bundle_type:
        found_type = body.get("type") if kind == "Bundle" else None
        result.add(
            "bundle-type",
            found_type == expect.bundle_type,
            f"expected a Bundle of type {expect.bundle_type}, found "
            + (f"type {found_type!r}" if kind == "Bundle" else _what(body)),
        )
    focus = focus_of(body) if kind == "Bundle" else None
    if expect.focus_type:
        focus_kind = focus.get("resourceType") if focus else None
        result.add(
            "focus-type",
            focus_kind == expect.focus_type,
            f"expected MessageHeader.focus to resolve to a {expect.focus_type} entry, found "
            + (focus_kind or "no resolvable focus (first entry a MessageHeader whose focus[0] is an entry's fullUrl)"),
        )
    if expect.entry_types is not None:
        entries = body.get("entry") or [] if kind == "Bundle" else []
        found_kinds = [(e.get("resource") or {}).get("resourceType") if isinstance(e, dict) else None for e in entries]
        others = sorted({str(k) for k in found_kinds if k not in expect.entry_types})
        result.add(
            "entry-types",
            kind == "Bundle" and not others,
            f"expected every entry to be one of {', '.join(expect.entry_types)}, found "
            + (", ".join(others) if others else ("only those" if kind == "Bundle" else _what(body))),
        )

    if expect.bars_code:
        _judge_outcome(result, expect, body)

    if expect.allow_header:
        allow = answer.header("Allow")
        result.add(
            "allow-header",
            bool(allow and allow.strip()),
            f"expected an Allow header naming the methods the path supports, found {allow!r}"
            if allow
            else "expected an Allow header naming the methods the path supports, found none",
            "warning",
        )

    for name in ("X-Request-Id", "X-Correlation-Id"):
        sent = request.header(name)
        if sent is None:
            continue  # the negative test leaves it out: nothing to echo
        echoed = answer.header(name)
        result.add(
            f"echo-{name.lower()}",
            echoed == sent,
            f"expected {name} echoed as {sent}, found " + ("no such header" if echoed is None else f"{echoed!r}"),
        )

    result.add(
        "response-time",
        answer.elapsed_ms <= max_response_ms,
        f"expected an answer within {max_response_ms} ms, found {answer.elapsed_ms:.0f} ms",
        "warning",
    )

    for name, where in expect.capture.items():
        value = _element(body, focus, where)
        ok = isinstance(value, str) and bool(value.strip())
        if ok:
            result.captures[name] = str(value)
        result.add(
            f"capture-{name}",
            ok,
            f"expected {where} to hold the id the receiver assigned (kept as {name}), found {_show(value)}",
        )

    for check in expect.paths:
        value = _element(body, focus, check.path)
        why = f" ({check.why})" if check.why else ""
        if check.equals is None:
            ok = value is not paths.MISSING and value not in (None, "", [], {})
            message = f"expected {check.path} to be present{why}, found {_show(value)}"
        else:
            wanted = _substitute(check.equals, variables)
            ok = value == wanted
            message = f"expected {check.path} = {wanted!r}{why}, found {_show(value)}"
        result.add(check.id, ok, message, check.severity)
    return result


def _judge_profiles(result: Judgement, body: Any) -> None:
    """The answer against the BaRS, UK Core and R4 profiles, as TKW's validator judges it."""
    from tkw.profiles import validate_body  # loaded on first use: the profiles are a few MB parsed

    report = validate_body(body)
    failing = [i for i in report.issues if i.severity in ("error", "warning")]
    for issue in failing[:MAX_PROFILE_CHECKS]:
        severity: Severity = "error" if issue.severity == "error" else "warning"
        result.add(f"profile.{issue.rule}", False, f"at {issue.expression}: {issue.describe()}", severity)
    rest = failing[MAX_PROFILE_CHECKS:]
    if rest:
        worst: Severity = "error" if any(i.severity == "error" for i in rest) else "warning"
        result.add("profile.more", False, f"{len(rest)} more profile findings are not listed", worst)
    if not report.errors:
        conforms = f"expected the answer to conform to its profiles, found it does ({report.packages})"
        result.add("profile", True, conforms)


def _element(body: Any, focus: dict[str, Any] | None, where: str) -> Any:
    if where.startswith("focus."):
        return paths.get(focus, where.removeprefix("focus.")) if focus is not None else paths.MISSING
    return paths.get(body, where)


def _substitute(text: str, variables: Mapping[str, str]) -> str:
    from tkw.receiver.suite import VARIABLE

    return VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def _codings(body: Any) -> list[tuple[str, str]]:
    """(system, code) of every issue's details.coding."""
    found: list[tuple[str, str]] = []
    if not isinstance(body, dict):
        return found
    for issue in body.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        details = issue.get("details")
        codings = details.get("coding") if isinstance(details, dict) else None
        for coding in codings if isinstance(codings, list) else []:
            if isinstance(coding, dict):
                found.append((str(coding.get("system")), str(coding.get("code"))))
    return found


def _error_code_text(answer: Answer) -> str:
    body, _ = parse_json(answer)
    codes = [code for system, code in _codings(body) if system in ERROR_CODE_SYSTEMS]
    if codes:
        return codes[0]
    return "no BaRS error code"


def _judge_outcome(result: Judgement, expect: Expect, body: Any) -> None:
    """OperationOutcome shape, then its BaRS code (either code-system spelling), then issue code."""
    assert expect.bars_code
    is_outcome = isinstance(body, dict) and body.get("resourceType") == "OperationOutcome"
    issues = body.get("issue") if is_outcome else None
    first = issues[0] if isinstance(issues, list) and issues and isinstance(issues[0], dict) else None
    if not is_outcome:
        shape = f"found {_what(body)}"
    elif first is None:
        shape = "found an OperationOutcome without issues"
    else:
        missing = [
            label
            for label, ok in (
                ("issue[0].severity error or fatal", first.get("severity") in {"error", "fatal"}),
                ("issue[0].code", bool(first.get("code"))),
                ("issue[0].details.coding with the BaRS error-code system", bool(_codings({"issue": [first]}))),
                ("issue[0].diagnostics", bool(first.get("diagnostics"))),
            )
            if not ok
        ]
        shape = f"found it without {', '.join(missing)}" if missing else "found one"
    result.add(
        "outcome-shape",
        shape == "found one",
        "expected an OperationOutcome with issue[0] severity error, a FHIR issue code, "
        f"details.coding in {ERROR_CODE_SYSTEMS[0]} and diagnostics; {shape}",
    )

    codings = _codings(body)
    bars = [code for system, code in codings if system in ERROR_CODE_SYSTEMS]
    if bars:
        found = ", ".join(bars)
    elif codings:
        found = ", ".join(f"{code} in system {system}" for system, code in codings)
    else:
        found = f"no details.coding ({_what(body)})" if is_outcome else _what(body)
    result.add(
        "bars-code",
        expect.bars_code in bars,
        f"expected BaRS error code {expect.bars_code} (system {ERROR_CODE_SYSTEMS[0]}), found {found}",
    )
    if expect.issue_code:
        found_code = first.get("code") if first else None
        result.add(
            "issue-code",
            found_code == expect.issue_code,
            f"expected issue[0].code {expect.issue_code}, found {found_code or 'none'}",
            "warning",
        )
