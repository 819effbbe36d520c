"""Which of the stateful scenario's five events a ``$process-message`` bundle is.

The message kind (from ``tkw.scenarios.classify``) decides most of it; a new referral is *linked*
when its ServiceRequest's ``supportingInfo`` references the booked Appointment (``Appointment/{id}``,
as the IG's 111-to-ED referral does, or a bundle entry that is that Appointment) or when the bundle
carries an Appointment entry with the booked id. Anything else, including a referral that references
no Appointment at all, is *mis-linked*. Pure functions over the bundle dict; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from tkw.message_kinds import MessageKind
from tkw.stateful.machine import Event

# Kinds whose event does not depend on the stored state. REFERRAL_NEW is linked or mis-linked.
_EVENT_BY_KIND: Mapping[MessageKind, Event] = MappingProxyType(
    {
        MessageKind.BOOKING_NEW: Event.MAKE_BOOKING,
        MessageKind.BOOKING_CANCEL: Event.CANCEL_BOOKING,
        MessageKind.REFERRAL_CANCEL: Event.CANCEL_REFERRAL,
    }
)
STATEFUL_KINDS: frozenset[MessageKind] = frozenset({*_EVENT_BY_KIND, MessageKind.REFERRAL_NEW})


class StatefulEvent(NamedTuple):
    event: Event
    # Why a referral counts as mis-linked; appended to the 409 diagnostics.
    note: str | None = None


def stateful_event(
    kind: MessageKind, bundle: Mapping[str, Any], booked_appointment_id: str | None
) -> StatefulEvent | None:
    """The event ``bundle`` is, given the organisation's booked Appointment id; None if not stateful."""
    fixed = _EVENT_BY_KIND.get(kind)
    if fixed is not None:
        return StatefulEvent(fixed)
    if kind is not MessageKind.REFERRAL_NEW:
        return None
    if booked_appointment_id is None:  # nothing to link to; the table answers "no booking"
        return StatefulEvent(Event.CREATE_MISLINKED_REFERRAL)
    referenced = referenced_appointment_ids(bundle)
    carried = appointment_entry_ids(bundle)
    if booked_appointment_id in referenced or booked_appointment_id in carried:
        return StatefulEvent(Event.CREATE_LINKED_REFERRAL)
    expected = f"the booked Appointment/{booked_appointment_id}"
    if referenced:
        others = ", ".join(f"Appointment/{i}" for i in sorted(referenced))
        note = f"ServiceRequest.supportingInfo references {others}, not {expected}."
    elif carried:
        others = ", ".join(f"Appointment/{i}" for i in sorted(carried))
        note = f"The bundle carries {others}, not {expected}."
    else:
        note = (
            "The referral references no Appointment, so it is treated as mis-linked: "
            f"ServiceRequest.supportingInfo must reference {expected}."
        )
    return StatefulEvent(Event.CREATE_MISLINKED_REFERRAL, note)


def _entries(bundle: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(fullUrl, resource) for every well-formed entry."""
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
            full_url = entry.get("fullUrl")
            yield (full_url if isinstance(full_url, str) else ""), entry["resource"]


def _reference_target(reference: str) -> tuple[str | None, str]:
    """``Type/id`` (relative or absolute, optional ``/_history``) → (Type, id); ``urn:uuid:x`` → (None, x)."""
    ref = reference.strip()
    if ref.startswith("urn:uuid:"):
        return None, ref.removeprefix("urn:uuid:")
    parts = [p for p in ref.split("/") if p]
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2:
        return parts[-2], parts[-1]
    return None, ref


def _entry_ids(full_url: str, resource: Mapping[str, Any]) -> set[str]:
    ids = {resource["id"]} if isinstance(resource.get("id"), str) and resource["id"] else set()
    if full_url:
        ids.add(_reference_target(full_url)[1])
    return ids


def find_resources(bundle: Mapping[str, Any], resource_type: str) -> list[dict[str, Any]]:
    """The MessageHeader's focus resources of ``resource_type``, else every entry of that type."""
    by_url: dict[str, dict[str, Any]] = {}
    of_type: list[dict[str, Any]] = []
    header: dict[str, Any] | None = None
    for full_url, resource in _entries(bundle):
        if full_url:
            by_url[full_url] = resource
        if resource.get("resourceType") == resource_type:
            of_type.append(resource)
            if isinstance(resource.get("id"), str):
                by_url.setdefault(f"{resource_type}/{resource['id']}", resource)
        elif resource.get("resourceType") == "MessageHeader" and header is None:
            header = resource
    focused: list[dict[str, Any]] = []
    for focus in (header or {}).get("focus") or []:
        ref = focus.get("reference") if isinstance(focus, dict) else None
        found = by_url.get(ref) if isinstance(ref, str) else None
        if found is not None and found.get("resourceType") == resource_type and found not in focused:
            focused.append(found)
    return focused or of_type


def referenced_appointment_ids(bundle: Mapping[str, Any]) -> set[str]:
    """Ids of the Appointments the referral's ServiceRequest(s) reference in ``supportingInfo``."""
    appointments_by_url = {
        full_url: resource
        for full_url, resource in _entries(bundle)
        if full_url and resource.get("resourceType") == "Appointment"
    }
    ids: set[str] = set()
    for service_request in find_resources(bundle, "ServiceRequest"):
        for info in service_request.get("supportingInfo") or []:
            ref = info.get("reference") if isinstance(info, dict) else None
            if not isinstance(ref, str) or not ref.strip():
                continue
            if ref in appointments_by_url:  # a bundle entry: its own id, else its fullUrl's
                ids |= _entry_ids(ref, appointments_by_url[ref])
                continue
            resource_type, target_id = _reference_target(ref)
            if resource_type == "Appointment" and target_id:
                ids.add(target_id)
    return ids


def appointment_entry_ids(bundle: Mapping[str, Any]) -> set[str]:
    """Ids (``Appointment.id`` or the fullUrl's id) of every Appointment entry in the bundle."""
    ids: set[str] = set()
    for full_url, resource in _entries(bundle):
        if resource.get("resourceType") == "Appointment":
            ids |= _entry_ids(full_url, resource)
    return ids
