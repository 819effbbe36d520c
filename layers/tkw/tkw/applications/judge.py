"""Which Application and use case a request is judged against, and why.

The order of evidence follows how TKW is used: a service that answers as one Application only
(2000070513 is Application 5, 2000159910 Application 6, ...) decides the Application; otherwise the
use case the message itself carries (ServiceRequest.category / Appointment.serviceCategory), then the
``use-context`` header, then the ``context`` of a MessageDefinition search; a message with none of
these is judged by its workflow (bookings and referrals: Application 1, validations: Application 4).
The use case is the first one, in that order, that belongs to the Application; else its default.
"""

from __future__ import annotations

from dataclasses import dataclass

from tkw.applications.model import Catalogue, get_catalogue

# Who decides when nothing in the request names a use case.
_DEFAULT_BY_WORKFLOW = {"booking": 1, "referral": 1, "safeguarding": 1, "validation": 4}


@dataclass(frozen=True, slots=True, kw_only=True)
class Judgement:
    """What a report says it judged the request against (additive to the report record)."""

    application: int | None = None
    application_name: str | None = None
    use_case: str | None = None  # a usecases-categories-bars code
    use_case_display: str | None = None
    workflow: str | None = None  # tkw.applications.model.Workflow, for $process-message
    why: str = ""

    @property
    def title(self) -> str:
        if self.application is None:
            return "BaRS Core (no Application)"
        text = f"Application {self.application}"
        if self.application_name:
            text += f" ({self.application_name})"
        if self.use_case:
            text += f", use case {self.use_case}"
            if self.use_case_display:
                text += f" {self.use_case_display}"
        return text


def _known(catalogue: Catalogue, code: str | None) -> str | None:
    """The CodeSystem's spelling of ``code`` when it is one (matched ignoring case), else None."""
    if not code:
        return None
    lowered = code.strip().lower()
    return lowered if lowered in catalogue.use_cases else None


def judge(
    *,
    target: str | None,
    workflow: str | None = None,
    payload_use_case: str | None = None,
    header_use_case: str | None = None,
    context_use_case: str | None = None,
    catalogue: Catalogue | None = None,
) -> Judgement:
    catalogue = catalogue or get_catalogue()
    evidence = [
        (_known(catalogue, payload_use_case), "the message's use case"),
        (_known(catalogue, header_use_case), "the use-context header's use case"),
        (_known(catalogue, context_use_case), "the MessageDefinition context's use case"),
    ]
    reasons: list[str] = []
    if workflow is not None:  # a use case whose Application has no such workflow cannot decide it
        kept = []
        for code, where in evidence:
            app = catalogue.application(catalogue.use_cases[code].application) if code else None
            if app is not None and workflow not in app.workflows:
                reasons.append(f"{where} {code} is Application {app.number}'s, which has no {workflow}")
                code = None
            kept.append((code, where))
        evidence = kept
    service = catalogue.service(target)
    number: int | None = None
    if service is not None and service.dedicated is not None:
        number = service.dedicated
        reasons.append(f"the target {service.id} ({service.name}) is a TKW Application {number} service")
    else:
        for code, where in evidence:
            if code is not None:
                number = catalogue.use_cases[code].application
                reasons.append(f"{where} {code} belongs to Application {number}")
                break
        if number is None and workflow is not None:
            number = _DEFAULT_BY_WORKFLOW.get(workflow.split("-", 1)[0])
            if number is not None:
                reasons.append(
                    f"nothing in the request names a use case; a {workflow} is judged as Application {number}"
                )
        if service is not None and number is not None and number not in service.applications:
            served = ", ".join(str(n) for n in service.applications)
            reasons.append(f"(the target {service.id} serves Applications {served})")
    if number is None:
        where = f"the target {target} " if target else "the request "
        return Judgement(workflow=workflow, why=f"{where}names no Application and the request no use case")
    application = catalogue.application(number)
    use_case = next(
        (code for code, _ in evidence if code is not None and catalogue.use_cases[code].application == number), None
    )
    if use_case is not None:
        where = next(w for c, w in evidence if c == use_case)
        if not any(r.startswith(where) for r in reasons):
            reasons.append(f"{where} is {use_case}")
    elif application is not None:
        use_case = application.default_use_case
        named = [c for c, _ in evidence if c is not None]
        if named:
            reasons.append(
                f"use case {', '.join(named)} is not Application {number}'s; judged as its default {use_case}"
            )
        elif workflow is not None:
            reasons.append(f"judged as its default use case {use_case}")
        else:
            use_case = None
    found = catalogue.use_case(use_case)
    return Judgement(
        application=number,
        application_name=application.name if application else None,
        use_case=use_case,
        use_case_display=found.display if found else None,
        workflow=workflow,
        why="; ".join(reasons),
    )
