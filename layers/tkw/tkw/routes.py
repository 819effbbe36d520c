"""The BaRS API surface: which operation answers which method on which path.

The fallback function reads this table to tell "unknown path" (404 NOT_FOUND) from "known path,
wrong method" (405 with an Allow header), so the two can never drift apart.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

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


class BarsRoute(NamedTuple):
    template: str  # path below BASE_PATH, API Gateway style: "/Appointment/{id}"
    methods: dict[str, Operation]


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
# Each route's full path in segments (with its route), and those segments beside their case-folded
# form (for meant_path). Segment matching, not regular expressions: compiling eighteen of them was
# ~3 ms of every BaRS function's cold start.
_SEGMENTS = tuple((route, tuple((BASE_PATH + route.template).split("/"))) for route in BARS_ROUTES)
_FOLDED = tuple((segments, tuple(s.lower() for s in segments)) for _, segments in _SEGMENTS)
STATUS_PATH = BASE_PATH + "/_status"  # the API platform's health endpoint (no BaRS route behind it)


def _segments(path: str) -> list[str]:
    """A request path's segments; one trailing slash is tolerated, as API Gateway routes it."""
    return (path[:-1] if path.endswith("/") else path).split("/")


def _fits(wanted: tuple[str, ...], given: list[str]) -> bool:
    """Whether path segments fit a route's: a ``{parameter}`` takes any one non-empty segment."""
    return len(given) == len(wanted) and all(
        bool(g) if w.startswith("{") else g == w for w, g in zip(wanted, given, strict=True)
    )


def find_route(path: str) -> BarsRoute | None:
    given = _segments(path)
    return next((route for route, wanted in _SEGMENTS if _fits(wanted, given)), None)


def meant_path(path: str) -> str | None:
    """The path a request in the wrong letter case meant (TKW's endpoints are case sensitive), if any:
    ``/booking-and-referral/FHIR/R4/slot`` -> ``/booking-and-referral/FHIR/R4/Slot``."""
    given = _segments(path)
    folded = [g.lower() for g in given]
    for exact, wanted in _FOLDED:
        if _fits(wanted, folded):
            return "/".join(g if w.startswith("{") else w for g, w in zip(given, exact, strict=True))
    if path.rstrip("/").lower() == STATUS_PATH.lower():
        return STATUS_PATH
    return None


def allowed_methods(route: BarsRoute) -> list[str]:
    return sorted(route.methods)
