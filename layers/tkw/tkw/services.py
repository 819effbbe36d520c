"""The collaborators a request needs, built once per process from settings.

Adapters that talk to AWS are created lazily so a function that never needs DynamoDB or S3 never
imports boto3 (cold start), and so tests can swap them for moto-backed ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

from tkw.settings import Settings, get_settings

if TYPE_CHECKING:
    from tkw.auth.ports import AuthStore
    from tkw.catalogue import EndpointCatalogue, RegisteredServices
    from tkw.outbound.service import OutboundServices
    from tkw.outbound_limits import OutboundCounter
    from tkw.receiver.service import ReceiverServices
    from tkw.reports.handoff import ReportHandoff
    from tkw.reports.shares import ShareStore
    from tkw.reports.store import ReportStore
    from tkw.stateful.store import StateStore


@dataclass
class Services:
    settings: Settings
    # Seconds since the epoch; injected so the nightly reset and token expiry can be tested.
    clock: Callable[[], float] = field(default=time.time)
    # Services organisations registered (their own endpoints): the Endpoint Catalogue routes to them too.
    registered_services: list[RegisteredServices] = field(default_factory=list)

    @property
    def catalogue(self) -> EndpointCatalogue:
        """The emulated Endpoint Catalogue: TKW's services plus the registered ones."""
        from tkw.catalogue import tkw_catalogue

        return tkw_catalogue().with_registered([*self.registered_services, _RegisteredEndpointsWhenAsked(self)])

    @cached_property
    def registered_endpoints(self) -> RegisteredServices:
        """Sender endpoints organisations registered (DynamoDB): the catalogue routes to them too."""
        from tkw.adapters.outbound_store import RegisteredEndpoints

        return RegisteredEndpoints(self.settings.table_name)

    @cached_property
    def state(self) -> StateStore:
        """The stateful 111-to-ED store (DynamoDB)."""
        from tkw.adapters.state_store import state_store

        return state_store(self.settings.table_name)

    @cached_property
    def reports(self) -> ReportStore:
        """Validation reports (S3) and their index (DynamoDB)."""
        from tkw.adapters.report_store import report_store_for

        return report_store_for(self.settings)

    @cached_property
    def report_handoff(self) -> ReportHandoff:
        """Where the request path hands each exchange for its report (see ``tkw.reports.handoff``)."""
        from tkw.reports.handoff import InProcessHandoff, QueueHandoff, host_handoff

        hosted = host_handoff()
        if hosted is not None:
            return hosted
        if self.settings.report_handoff == "queue":
            return QueueHandoff(self.settings.reports_queue_url)
        from tkw.reports.production import produce_reports

        store = self.reports
        return InProcessHandoff(lambda jobs: produce_reports(jobs, store))

    @cached_property
    def auth(self) -> AuthStore:
        """Registered applications, used JWT ids and issued tokens (DynamoDB)."""
        from tkw.adapters.auth_store import get_auth_store

        return get_auth_store(self.settings.table_name)

    @cached_property
    def outbound_counter(self) -> OutboundCounter:
        """Hourly counts of receiver runs and asynchronous responses per organisation (DynamoDB)."""
        from tkw.adapters.outbound_counter import DynamoOutboundCounter

        return DynamoOutboundCounter(self.settings.table_name)

    @cached_property
    def receiver(self) -> ReceiverServices:
        """What receiver runs need (tkw.receiver.service), over this container's adapters."""
        from tkw.receiver.service import receiver_services_from

        return receiver_services_from(self)

    @cached_property
    def outbound(self) -> OutboundServices:
        """What async responses need (tkw.outbound.service), over this container's adapters."""
        from tkw.outbound.service import outbound_services_from

        return outbound_services_from(self)

    @cached_property
    def shares(self) -> ShareStore:
        """Share links for assurance, stored under the hash of their token (DynamoDB)."""
        from tkw.adapters.share_store import DynamoShareStore

        return DynamoShareStore(self.settings.table_name)


class _RegisteredEndpointsWhenAsked:
    """:attr:`Services.registered_endpoints`, created when the catalogue first asks it: it is asked
    only about targets outside TKW's own services, and creating it imports the endpoint store
    (boto3, pydantic), which a request to TKW's services, and its cold start, never need."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def is_registered(self, service_id: str, organisation: str) -> bool:
        return self._services.registered_endpoints.is_registered(service_id, organisation)


@lru_cache(maxsize=1)
def get_services() -> Services:
    return Services(settings=get_settings())
