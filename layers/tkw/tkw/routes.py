"""The BaRS API surface: which operation answers which method on which path.

The fallback function reads this table to tell "unknown path" (404 NOT_FOUND) from "known path,
wrong method" (405 with an Allow header), so the two can never drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from tkw import BASE_PATH


class Operation(StrEnum):
    PING = "ping"
    METADATA = "metadata"
    MESSAGE_DEFINITION_SEARCH = "message-definition-search"
    SLOT_SEARCH = "slot-search"
    PROCESS_MESSAGE = "process-message"
    APPOINTMENT_SEARCH = "appointment-search"
    APPOINTMENT_READ = "appointment-read"
    SERVICE_REQUEST_SEARCH = "service-request-search"
    SERVICE_REQUEST_READ = "service-request-read"


@dataclass(frozen=True, slots=True)
class BarsRoute:
    template: str  # path below BASE_PATH, API Gateway style: "/Appointment/{id}"
    methods: dict[str, Operation]

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(BASE_PATH + self.template)) + "/?$")


BARS_ROUTES: tuple[BarsRoute, ...] = (
    BarsRoute("/_ping", {"GET": Operation.PING}),
    BarsRoute("/metadata", {"GET": Operation.METADATA}),
    BarsRoute("/MessageDefinition", {"GET": Operation.MESSAGE_DEFINITION_SEARCH}),
    BarsRoute("/Slot", {"GET": Operation.SLOT_SEARCH}),
    BarsRoute("/$process-message", {"POST": Operation.PROCESS_MESSAGE}),
    BarsRoute("/Appointment", {"GET": Operation.APPOINTMENT_SEARCH}),
    BarsRoute("/Appointment/{id}", {"GET": Operation.APPOINTMENT_READ}),
    BarsRoute("/ServiceRequest", {"GET": Operation.SERVICE_REQUEST_SEARCH}),
    BarsRoute("/ServiceRequest/{id}", {"GET": Operation.SERVICE_REQUEST_READ}),
)
_COMPILED = tuple((r.pattern, r) for r in BARS_ROUTES)


def find_route(path: str) -> BarsRoute | None:
    for pattern, route in _COMPILED:
        if pattern.match(path):
            return route
    return None


_CASELESS = tuple((re.compile(p.pattern, re.IGNORECASE), r) for p, r in _COMPILED)
STATUS_PATH = BASE_PATH + "/_status"  # the API platform's health endpoint (no BaRS route behind it)


def meant_path(path: str) -> str | None:
    """The path a request in the wrong letter case meant (TKW's endpoints are case sensitive), if any:
    ``/booking-and-referral/FHIR/R4/slot`` -> ``/booking-and-referral/FHIR/R4/Slot``."""
    for pattern, route in _CASELESS:
        if pattern.match(path):
            given = path.rstrip("/").split("/")
            wanted = (BASE_PATH + route.template).split("/")
            fixed = [g if w.startswith("{") else w for g, w in zip(given, wanted, strict=False)]
            return "/".join(fixed)
    if path.rstrip("/").lower() == STATUS_PATH.lower():
        return STATUS_PATH
    return None


def allowed_methods(route: BarsRoute) -> list[str]:
    return sorted(route.methods)
