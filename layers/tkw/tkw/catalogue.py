"""The emulated Endpoint Catalogue: which NHSD-Target-Identifiers the BaRS proxy can route.

The live proxy answers 404 PROXY_NOT_FOUND for a well-formed target it has no endpoint for, and the
TKW page says only TKW's configured services work. Those are the live page's "UserTest DoS Services"
table and every service a scenario row names (both guide editions), all read from
``scenarios.yaml``; services organisations register plug in through :class:`RegisteredServices`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple, Protocol

from tkw.encoded_headers import DOS_SYSTEM, TargetIdentifier

if TYPE_CHECKING:
    from tkw.scenarios.model import ScenarioTable

_DOS = DOS_SYSTEM.lower()
_SERVICE_ID = re.compile(r"^\d{6,12}$")  # DoS service ids, as opposed to FAIL0401-style sentinels
# The official BaRS API test suite's targets (its sandbox convention: system `tests`, value NHS...).
TEST_SYSTEM = "tests"


class RegisteredServices(Protocol):
    """DoS services an organisation registered with the emulator (its own receiving endpoints,
    ``PUT /tkw/endpoints/{service_id}``): targets that organisation's requests may name."""

    def is_registered(self, service_id: str, organisation: str) -> bool: ...


class EndpointCatalogue(NamedTuple):
    tkw_services: frozenset[str]
    registered: tuple[RegisteredServices, ...] = ()

    def knows(self, target: TargetIdentifier, organisation: str | None = None) -> bool:
        """Whether the proxy can route ``target``; ``organisation`` (the requester's ODS code) adds
        the services it registered."""
        system = target.system.strip().lower().replace("http://", "https://").rstrip("/")
        if system == _DOS and target.value in self.tkw_services:
            return True
        if system == TEST_SYSTEM and target.value.upper().startswith("NHS"):
            return True
        if system != _DOS or organisation is None:
            return False
        return any(lookup.is_registered(target.value, organisation) for lookup in self.registered)

    def with_registered(self, lookups: Iterable[RegisteredServices]) -> EndpointCatalogue:
        return EndpointCatalogue(self.tkw_services, self.registered + tuple(lookups))


def tkw_service_ids(table: ScenarioTable) -> frozenset[str]:
    """The UserTest DoS services plus every service id a scenario row of either edition names."""
    ids = {service.id for service in table.usertest_dos}
    for scenario in table.scenarios:
        match = scenario.match
        ids.update(v for v in (match.target, match.context, match.healthcare_service) if v and _SERVICE_ID.match(v))
    return frozenset(ids)


@lru_cache(maxsize=1)
def tkw_catalogue() -> EndpointCatalogue:
    from tkw.scenarios.engine import get_table

    return EndpointCatalogue(tkw_service_ids(get_table()))
