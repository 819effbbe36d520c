"""Which BaRS workflow a ``$process-message`` Bundle is (BARS-API.md §6.2), read from the Bundle itself.

Pure and fast: it works on the parsed JSON dict, never on fhir.resources models. It decides on the
things the IG's decision table decides on (MessageHeader event and reason, ServiceRequest category,
focus status, ``MessageHeader.response``) and tolerates the variation seen in real payloads:

- event and reason are read by code, whatever their code system (the repo's examples use
  ``message-event-servicerequest``, the IG ``message-events-bars``);
- a cancellation is recognised by the focus status, whatever the reason (BOOKREQ02 cancels with ``new``);
- identifier systems match with ``http://`` or ``https://`` and any letter case;
- a focus reference that does not resolve (``":uuid:..."``, ``Type/id``) falls back to the Bundle's only
  resource of the expected type;
- a ServiceRequest without a referral/validation category is read from its use case (a4tN: validation).

Besides the *answer kind* (:class:`MessageKind`, what the scenario table answers), it names the finer
*workflow* (``tkw.applications.model.Workflow``: a referral update, an Application 6 status response
or rejection, ...) and the use case the payload carries. A workflow the scenario table has no kind
for is answered as its nearest kind (``ANSWERED_AS``): a referral update as a referral, an App 6
response as the referral response.

An unknown combination raises 400 REC_BAD_REQUEST ``invariant`` saying what was found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from tkw.fhir.outcome import BarsError
from tkw.message_kinds import NHS_NUMBER_SYSTEM, MessageKind

__all__ = ["ANSWERED_AS", "Classification", "MessageKind", "classify", "nhs_number_of", "normalise_system"]

CANCELLED_APPOINTMENT = frozenset({"cancelled", "entered-in-error"})
WITHDRAWN_SERVICE_REQUEST = frozenset({"revoked", "entered-in-error"})
# Receiver Encounter states of a validation response: still being handled, or done.
INTERIM_ENCOUNTER = frozenset({"planned", "arrived", "in-progress", "onleave", "cancelled"})
FINAL_ENCOUNTER = frozenset({"finished", "triaged"})
CATEGORIES = ("referral", "validation")
USE_CASE_SYSTEM = "https://fhir.nhs.uk/CodeSystem/usecases-categories-bars"
# Application 6 use cases whose requests a receiver may reject (Call Assist, Mutual Aid).
REJECTABLE_USE_CASES = frozenset({"a6t2", "a6t3"})

# Workflows with no answer kind of their own: what the scenario table answers them as. When
# MessageKind gains a kind of the same name (and the table a row), that kind is used instead.
ANSWERED_AS: dict[str, MessageKind] = {
    "referral-update": MessageKind.REFERRAL_NEW,
    "referral-response-status": MessageKind.SAFEGUARDING_DNA_RESPONSE,
    "referral-response-rejection": MessageKind.SAFEGUARDING_DNA_RESPONSE,
}


def answer_kind(workflow: str) -> MessageKind:
    """The scenario table's kind for a workflow: its own when the table has one, else ANSWERED_AS."""
    try:
        return MessageKind(workflow)
    except ValueError:
        return ANSWERED_AS[workflow]


_FOCUS_TYPE = {"booking-request": "Appointment", "servicerequest-request": "ServiceRequest"}


class Classification(NamedTuple):
    kind: MessageKind
    event: str
    reason: str | None  # first MessageHeader.reason code, lower-cased
    nhs_number: str | None  # Patient.identifier with the NHS number system; None when absent
    focus_type: str
    focus_index: int  # index of the focus in Bundle.entry
    focus: Mapping[str, Any]  # the focus resource, as sent
    category: str | None = None  # "referral" | "validation" for ServiceRequest workflows
    patient: Mapping[str, Any] | None = None
    bundle_id: str | None = None
    response_identifier: str | None = None  # MessageHeader.response.identifier (async responses)
    notes: tuple[str, ...] = ()  # tolerated deviations from the IG, for reports
    workflow: str = ""  # the finer workflow (tkw.applications.model.Workflow); kind when equal
    use_case: str | None = None  # the payload's usecases-categories-bars code, lower-cased


def classify(bundle: Mapping[str, Any]) -> Classification:
    return _Reader(bundle).classify()


def normalise_system(system: object) -> str:
    """``HTTP://FHIR.nhs.uk/Id/NHS-Number/`` -> ``fhir.nhs.uk/id/nhs-number``."""
    if not isinstance(system, str):
        return ""
    text = system.strip().lower()
    for scheme in ("https://", "http://"):
        if text.startswith(scheme):
            text = text[len(scheme) :]
            break
    return text.rstrip("/")


_NHS_SYSTEM = normalise_system(NHS_NUMBER_SYSTEM)
_USE_CASE_SYSTEM = normalise_system(USE_CASE_SYSTEM)


def nhs_number_of(patient: Mapping[str, Any] | None) -> str | None:
    """The patient's NHS number (spaces removed), or None when it has none."""
    if not patient:
        return None
    for ident in _list(patient.get("identifier")):
        if isinstance(ident, Mapping) and normalise_system(ident.get("system")) == _NHS_SYSTEM:
            value = ident.get("value")
            if isinstance(value, str) and value.strip():
                return "".join(value.split())
    return None


def _list(value: object) -> Sequence[Any]:
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, Mapping) else []


def _code(value: object) -> str | None:
    if isinstance(value, Mapping):
        code = value.get("code")
        if isinstance(code, str) and code.strip():
            return code.strip().lower()
    return None


def _codes(concept: object) -> list[str]:
    """Codes of a CodeableConcept (or a list of them), lower-cased, in order."""
    codes: list[str] = []
    for item in _list(concept):
        if isinstance(item, Mapping):
            codes += [c for c in (_code(coding) for coding in _list(item.get("coding"))) if c]
    return codes


def use_case_of(resource: Mapping[str, Any] | None, element: str = "category") -> str | None:
    """The first usecases-categories-bars code of a CodeableConcept array element, lower-cased."""
    if not resource:
        return None
    for concept in _list(resource.get(element)):
        for coding in _list(concept.get("coding")) if isinstance(concept, Mapping) else ():
            if isinstance(coding, Mapping) and normalise_system(coding.get("system")) == _USE_CASE_SYSTEM:
                code = _code(coding)
                if code:
                    return code
    return None


def _reference_key(reference: str) -> str:
    """Normalise a reference so ``urn:uuid:X``, ``:uuid:X`` and ``uuid:X`` meet."""
    text = reference.strip().lower()
    if text.startswith(("urn:uuid:", ":uuid:", "uuid:")):
        return "urn:uuid:" + text.rsplit(":", 1)[1]
    return text


def _bad(diagnostics: str, expression: str | None = None) -> BarsError:
    return BarsError.of(400, "REC_BAD_REQUEST", "invariant", diagnostics, expression=expression)


class _Reader:
    def __init__(self, bundle: Mapping[str, Any]) -> None:
        self.bundle = bundle
        self.notes: list[str] = []
        self.entries: list[tuple[int, Mapping[str, Any]]] = []
        self.by_reference: dict[str, int] = {}
        for index, entry in enumerate(_list(bundle.get("entry"))):
            resource = entry.get("resource") if isinstance(entry, Mapping) else None
            if not isinstance(resource, Mapping) or not isinstance(resource.get("resourceType"), str):
                continue
            self.entries.append((index, resource))
            full_url = entry.get("fullUrl")
            if isinstance(full_url, str) and full_url.strip():
                self.by_reference.setdefault(_reference_key(full_url), index)
            if isinstance(resource.get("id"), str):
                self.by_reference.setdefault(f"{resource['resourceType']}/{resource['id']}".lower(), index)
        self.resources = dict(self.entries)

    # -- lookups ---------------------------------------------------------------------------------

    def of_type(self, resource_type: str) -> list[tuple[int, Mapping[str, Any]]]:
        return [(i, r) for i, r in self.entries if r["resourceType"] == resource_type]

    def resolve(self, reference: object) -> tuple[int, Mapping[str, Any]] | None:
        if isinstance(reference, Mapping):
            reference = reference.get("reference")
        if not isinstance(reference, str) or not reference.strip():
            return None
        key = _reference_key(reference)
        index = self.by_reference.get(key)
        if index is None and "/" in key:  # absolute URL ending in Type/id
            index = self.by_reference.get("/".join(key.rsplit("/", 2)[-2:]))
        return (index, self.resources[index]) if index is not None else None

    # -- the decision ----------------------------------------------------------------------------

    def classify(self) -> Classification:
        if self.bundle.get("type") != "message":
            raise _bad(
                f"$process-message needs a Bundle of type 'message'; found type {self.bundle.get('type')!r}.",
                "Bundle.type",
            )
        headers = self.of_type("MessageHeader")
        if not headers:
            raise _bad("The message Bundle has no MessageHeader (it must be the first entry).", "Bundle.entry[0]")
        header_index, header = headers[0]
        if header_index != 0:
            self.notes.append("MessageHeader is not the first entry of the Bundle")
        event = _code(header.get("eventCoding"))
        if event is None and isinstance(header.get("eventUri"), str):
            event = header["eventUri"].rstrip("/").rsplit("/", 1)[-1].lower() or None
        if event is None:
            raise _bad("MessageHeader.eventCoding has no code.", f"Bundle.entry[{header_index}].resource.eventCoding")
        reasons = _codes(header.get("reason"))
        reason = reasons[0] if reasons else None

        if event == "booking-request":
            return self._booking(header, event, reason)
        if event == "servicerequest-request":
            return self._service_request(header, event, reason)
        if event == "servicerequest-response":
            return self._response(header, event, reason)
        if event == "booking-response":
            raise _bad("booking-response messages are not accepted: BaRS has no booking response workflow.")
        raise _bad(
            f"Unknown MessageHeader event {event!r}; expected booking-request, servicerequest-request or "
            "servicerequest-response.",
            f"Bundle.entry[{header_index}].resource.eventCoding",
        )

    def _focus(self, header: Mapping[str, Any], expected: str | None) -> tuple[int, Mapping[str, Any]]:
        focus_refs = _list(header.get("focus"))
        found = self.resolve(focus_refs[0]) if focus_refs else None
        if found is not None:
            return found
        candidates = self.of_type(expected) if expected else []
        if len(candidates) == 1:
            self.notes.append(f"MessageHeader.focus does not resolve; used the Bundle's only {expected}")
            return candidates[0]
        what = "is missing" if not focus_refs else f"({focus_refs[0]!r}) does not resolve to an entry"
        raise _bad(f"MessageHeader.focus {what}.", "MessageHeader.focus")

    def _patient(self, focus: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The patient the focus points at, else the Bundle's first Patient."""
        refs: list[Any] = [focus.get("subject")]
        refs += [p.get("actor") for p in _list(focus.get("participant")) if isinstance(p, Mapping)]
        for ref in refs:
            found = self.resolve(ref)
            if found is not None and found[1]["resourceType"] == "Patient":
                return found[1]
        patients = self.of_type("Patient")
        return patients[0][1] if patients else None

    def _category(self, service_request: Mapping[str, Any] | None, header: Mapping[str, Any]) -> str | None:
        if service_request is not None:
            for code in _codes(service_request.get("category")):
                if code in CATEGORIES:
                    return code
        definition = header.get("definition")
        if isinstance(definition, str):
            for category in CATEGORIES:
                if category in definition.lower():
                    self.notes.append(f"ServiceRequest.category has no {'/'.join(CATEGORIES)} code; used definition")
                    return category
        use_case = use_case_of(service_request)
        if use_case is not None:
            self.notes.append(f"ServiceRequest.category has no {'/'.join(CATEGORIES)} code; used use case {use_case}")
            return "validation" if use_case.startswith("a4") else "referral"
        return None

    def _use_case(self, focus: Mapping[str, Any]) -> str | None:
        """The use case the payload carries: the focus's, else the ServiceRequest's or Appointment's."""
        found = use_case_of(focus, "serviceCategory" if focus.get("resourceType") == "Appointment" else "category")
        if found is None:
            for _, resource in self.of_type("ServiceRequest"):
                found = found or use_case_of(resource)
            for _, resource in self.of_type("Appointment"):
                found = found or use_case_of(resource, "serviceCategory")
        return found

    def _result(
        self,
        workflow: str,
        event: str,
        reason: str | None,
        focus: tuple[int, Mapping[str, Any]],
        header: Mapping[str, Any],
        category: str | None = None,
    ) -> Classification:
        patient = self._patient(focus[1])
        response = header.get("response")
        response_id = response.get("identifier") if isinstance(response, Mapping) else None
        bundle_id = self.bundle.get("id")
        kind = answer_kind(workflow)
        if kind.value != workflow:
            self.notes.append(f"a {workflow} is answered as a {kind.value}")
        return Classification(
            kind=kind,
            event=event,
            reason=reason,
            nhs_number=nhs_number_of(patient),
            focus_type=str(focus[1]["resourceType"]),
            focus_index=focus[0],
            focus=focus[1],
            category=category,
            patient=patient,
            bundle_id=bundle_id if isinstance(bundle_id, str) else None,
            response_identifier=response_id if isinstance(response_id, str) else None,
            notes=tuple(self.notes),
            workflow=workflow,
            use_case=self._use_case(focus[1]),
        )

    def _unknown(self, event: str, reason: str | None, found: str, expression: str) -> BarsError:
        return _bad(
            f"Unknown combination for {event} (reason {reason or 'absent'}): {found}. "
            "See the BaRS decision table (event, reason, focus status, ServiceRequest category).",
            expression,
        )

    def _booking(self, header: Mapping[str, Any], event: str, reason: str | None) -> Classification:
        focus = self._focus(header, "Appointment")
        where = f"Bundle.entry[{focus[0]}].resource"
        if focus[1]["resourceType"] != "Appointment":
            raise self._unknown(event, reason, f"the focus is a {focus[1]['resourceType']}, not an Appointment", where)
        status = str(focus[1].get("status") or "").lower()
        if status in CANCELLED_APPOINTMENT:
            if reason not in ("update", "delete"):
                self.notes.append(f"booking cancellation sent with reason {reason or 'absent'} (IG: update)")
            return self._result("booking-cancel", event, reason, focus, header)
        if status == "booked" and reason in (None, "new", "update"):
            if reason is None:
                self.notes.append("MessageHeader.reason is absent; treated as new")
            workflow = "booking-update" if reason == "update" else "booking-new"
            return self._result(workflow, event, reason, focus, header)
        raise self._unknown(event, reason, f"Appointment.status {status or 'absent'!r}", f"{where}.status")

    def _service_request(self, header: Mapping[str, Any], event: str, reason: str | None) -> Classification:
        focus = self._focus(header, "ServiceRequest")
        where = f"Bundle.entry[{focus[0]}].resource"
        if focus[1]["resourceType"] != "ServiceRequest":
            raise self._unknown(
                event, reason, f"the focus is a {focus[1]['resourceType']}, not a ServiceRequest", where
            )
        category = self._category(focus[1], header)
        if category is None:
            raise self._unknown(
                event, reason, "ServiceRequest.category has neither referral nor validation", f"{where}.category"
            )
        status = str(focus[1].get("status") or "").lower()
        if status in WITHDRAWN_SERVICE_REQUEST:
            return self._result(f"{category}-cancel", event, reason, focus, header, category)
        if status == "active" and reason in (None, "new"):
            if reason is None:
                self.notes.append("MessageHeader.reason is absent; treated as new")
            return self._result(f"{category}-new", event, reason, focus, header, category)
        # Later messages of a series (Application 6 updates, final update; validation updates).
        if status in ("active", "on-hold") and reason == "update":
            return self._result(f"{category}-update", event, reason, focus, header, category)
        raise self._unknown(
            event, reason, f"{category} ServiceRequest.status {status or 'absent'!r}", f"{where}.status"
        )

    def _response(self, header: Mapping[str, Any], event: str, reason: str | None) -> Classification:
        response = header.get("response")
        if not isinstance(response, Mapping) or not response.get("identifier"):
            raise _bad(
                "A servicerequest-response must carry MessageHeader.response.identifier (the Bundle.id of the "
                "request it answers).",
                "MessageHeader.response",
            )
        focus = self._focus(header, None)
        service_request = focus[1] if focus[1]["resourceType"] == "ServiceRequest" else None
        if service_request is None:
            requests = self.of_type("ServiceRequest")
            service_request = requests[0][1] if len(requests) == 1 else None
        category = self._category(service_request, header)
        where = f"Bundle.entry[{focus[0]}].resource"
        focus_type = focus[1]["resourceType"]
        status = str(focus[1].get("status") or "").lower()
        if category == "referral":
            use_case = use_case_of(service_request)
            sr_status = str((service_request or {}).get("status") or "").lower()
            if sr_status in WITHDRAWN_SERVICE_REQUEST or (
                focus_type == "ServiceRequest" and status in WITHDRAWN_SERVICE_REQUEST
            ):
                # Application 6 Call Assist / Mutual Aid: the receiver rejects; otherwise the DNA feedback.
                workflow = (
                    "referral-response-rejection" if use_case in REJECTABLE_USE_CASES else "safeguarding-dna-response"
                )
                return self._result(workflow, event, reason, focus, header, category)
            if sr_status in ("active", "completed", "on-hold") or focus_type == "Encounter":
                # Application 6 status updates (the IG's REFRESP03 focuses the ServiceRequest, the page the Encounter).
                return self._result("referral-response-status", event, reason, focus, header, category)
        if category == "validation":
            if focus_type == "Encounter" and status in INTERIM_ENCOUNTER:
                return self._result("validation-response-interim", event, reason, focus, header, category)
            if focus_type == "Encounter" and status in FINAL_ENCOUNTER:
                return self._result("validation-response-full", event, reason, focus, header, category)
            # Some senders focus the ServiceRequest itself: its status tells interim from final.
            if focus_type == "ServiceRequest" and status == "active":
                return self._result("validation-response-interim", event, reason, focus, header, category)
            if focus_type == "ServiceRequest" and status in ("completed", "revoked"):
                return self._result("validation-response-full", event, reason, focus, header, category)
        found = f"{category or 'uncategorised'} response with focus {focus_type}.status {status or 'absent'!r}"
        raise self._unknown(event, reason, found, f"{where}.status")
