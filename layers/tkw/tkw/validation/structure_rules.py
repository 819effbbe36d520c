"""FHIR structure of a $process-message body, checked with fhir.resources R4B (the closest to R4 4.0.1
that fhir.resources 8 ships; BARS-API.md §13).

It checks elements, cardinality and primitive formats, not code values against value sets; BaRS
codes are checked by :mod:`tkw.validation.message_rules`. Every error names its element path, e.g.
``Bundle.entry[2].resource(Patient).birthDate``.
"""

from __future__ import annotations

from collections.abc import Iterator

from tkw.fhir.message_body import fhir_path, structure_errors
from tkw.routes import Operation
from tkw.validation.context import ValidationContext
from tkw.validation.findings import Finding
from tkw.validation.registry import RuleSet

RULES = RuleSet("structure")

# Past this many the rest are almost always consequences of the first ones.
MAX_STRUCTURE_FINDINGS = 50


@RULES.rule(
    "fhir.body",
    "The $process-message body is a JSON FHIR Bundle",
    operations={Operation.PROCESS_MESSAGE},
)
def body_is_bundle(ctx: ValidationContext) -> Iterator[Finding]:
    body = ctx.body
    if body is None:
        raw = ctx.request.body or b""
        why = "is empty" if not raw.strip() else "is not a JSON object"
        yield RULES.failed(
            "fhir.body",
            f"The request body {why}; $process-message needs a FHIR Bundle of type message in JSON.",
            "Bundle",
            issue_code="required" if not raw.strip() else "invalid",
        )
    elif body.get("resourceType") != "Bundle":
        yield RULES.failed(
            "fhir.body",
            f"The request body is a {body.get('resourceType')!r} resource; $process-message needs a Bundle.",
            "Bundle",
        )
    else:
        yield RULES.passed("fhir.body", "The body is a JSON FHIR Bundle.", "Bundle")


@RULES.rule(
    "fhir.structure",
    "The Bundle conforms to the FHIR R4 model (fhir.resources R4B)",
    operations={Operation.PROCESS_MESSAGE},
)
def bundle_structure(ctx: ValidationContext) -> Iterator[Finding]:
    body = ctx.body
    if body is None or body.get("resourceType") != "Bundle":
        return
    if ctx.input.structure_validated:
        yield RULES.passed("fhir.structure", "The Bundle conforms to the FHIR R4 model.", "Bundle")
        return
    try:
        errors = structure_errors(body)
    except RecursionError:
        yield RULES.failed(
            "fhir.structure", "The Bundle is nested too deeply to validate.", "Bundle", issue_code="structure"
        )
        return
    if errors:
        for error in errors[:MAX_STRUCTURE_FINDINGS]:
            path = fhir_path(body, tuple(error["loc"]))
            yield RULES.failed(
                "fhir.structure", f"{path}: {_explain(error['type'], error['msg'])}", path, issue_code="structure"
            )
        if len(errors) > MAX_STRUCTURE_FINDINGS:
            yield RULES.failed(
                "fhir.structure",
                f"{len(errors) - MAX_STRUCTURE_FINDINGS} more structure errors not listed; fix the ones above first.",
                "Bundle",
                issue_code="structure",
            )
        return
    yield RULES.passed("fhir.structure", "The Bundle conforms to the FHIR R4 model.", "Bundle")


def _explain(error_type: str, message: str) -> str:
    """pydantic's wording, with FHIR's vocabulary where pydantic's would mislead a FHIR developer."""
    if error_type == "extra_forbidden":
        return "this element is not defined in FHIR R4 for this resource (misspelt, or in the wrong place)."
    if error_type == "missing":
        return "this element is required by FHIR R4 and is missing."
    # pydantic prefixes the message of a validator's own ValueError; FHIR developers need only the why.
    return message.removeprefix("Value error, ").rstrip(".") + "."
