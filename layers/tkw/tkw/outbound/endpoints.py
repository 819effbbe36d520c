"""Where a sender receives the emulator's responses: its registered endpoints, per organisation.

A sender (an organisation, by ``NHSD-End-User-Organisation``) registers the base URL of its own
BaRS API per DoS service id that stands for it in its messages (``MessageHeader.source.endpoint``),
or ``default``. Storage is a port (:class:`EndpointStore`); the DynamoDB adapter lives in
:mod:`tkw.adapters.outbound_store`.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tkw.access import Caller
from tkw.fhir.outcome import BarsError
from tkw.http import ApiRequest, ApiResponse
from tkw.receiver.builder import PreparedRequest
from tkw.receiver.safety import AddressGuard, EndpointRefused, check_endpoint
from tkw.receiver.transport import HttpTransport, TlsOptions, Transport, TransportError, ssl_context

DEFAULT_SERVICE = "default"
SERVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
JSON = "application/json"
NO_STORE = {"Cache-Control": "no-store"}
MAX_PEM_CHARS = 64 * 1024


class EndpointRegistration(BaseModel):
    """The body of ``PUT /tkw/endpoints/{service_id}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(min_length=8, max_length=2048)
    client_cert: str | None = Field(default=None, max_length=MAX_PEM_CHARS)
    client_key: str | None = Field(default=None, max_length=MAX_PEM_CHARS)
    ca_bundle: str | None = Field(default=None, max_length=MAX_PEM_CHARS)

    @field_validator("url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value.endswith("/$process-message"):
            raise ValueError("give the base URL of your BaRS API, without /$process-message")
        return value

    @model_validator(mode="after")
    def _pair(self) -> EndpointRegistration:
        if bool(self.client_cert) != bool(self.client_key):
            raise ValueError("client_cert and client_key go together (TLS-MA needs both)")
        return self


class SenderEndpoint(BaseModel):
    """A registered endpoint, as stored (the key material never leaves through the API)."""

    model_config = ConfigDict(frozen=True)

    organisation: str
    service_id: str
    url: str
    client_cert: str | None = None
    client_key: str | None = None
    ca_bundle: str | None = None
    updated_at: str

    @property
    def tls(self) -> TlsOptions:
        return TlsOptions(self.client_cert, self.client_key, self.ca_bundle)

    def public(self) -> dict[str, Any]:
        return {
            "service_id": self.service_id,
            "url": self.url,
            "mutual_tls": bool(self.client_cert),
            "ca_bundle": bool(self.ca_bundle),
            "updated_at": self.updated_at,
        }


class EndpointStore(Protocol):
    def put(self, endpoint: SenderEndpoint) -> None: ...

    def get(self, organisation: str, service_id: str) -> SenderEndpoint | None: ...

    def list(self, organisation: str) -> list[SenderEndpoint]: ...

    def delete(self, organisation: str, service_id: str) -> bool: ...


TransportFactory = Callable[[SenderEndpoint], Transport]


def http_transport(guard: AddressGuard, timeout: float) -> TransportFactory:
    """The receiver runs' transport (SSRF guard, TLS-MA, hard deadline) for one endpoint."""

    def make(endpoint: SenderEndpoint) -> Transport:
        return HttpTransport(guard, timeout=timeout, tls=endpoint.tls)

    return make


def endpoint_for(store: EndpointStore, organisation: str, service_id: str | None) -> SenderEndpoint | None:
    """The endpoint registered for ``service_id``, else the organisation's ``default``."""
    if service_id and SERVICE_ID.match(service_id):
        found = store.get(organisation, service_id)
        if found is not None:
            return found
    return store.get(organisation, DEFAULT_SERVICE)


def registered_service_ids(store: EndpointStore, organisation: str) -> list[str]:
    """The DoS service ids an organisation registered (``default`` excluded): known targets for it."""
    return sorted(e.service_id for e in store.list(organisation) if e.service_id != DEFAULT_SERVICE)


# -- API -----------------------------------------------------------------------------------------


def _bad_request(message: str, code: str = "value", expression: str | None = None) -> BarsError:
    return BarsError.of(400, "REC_BAD_REQUEST", code, message, expression=expression)


def _service_id(raw: str) -> str:
    if not SERVICE_ID.match(raw):
        raise _bad_request(
            f"{raw[:80]!r} is not a service id: use the DoS service id of your MessageHeader.source.endpoint "
            "(letters, digits, '.', '_', '-'; at most 64) or 'default'.",
            expression="service_id",
        )
    return raw


def _json(status: int, body: Any) -> ApiResponse:
    return ApiResponse(status, body, content_type=JSON, headers=dict(NO_STORE))


def _registration(request: ApiRequest) -> EndpointRegistration:
    try:
        data = json.loads(request.body or b"")
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise _bad_request(
            'The body must be a JSON object: {"url": "<base URL of your BaRS API>"} (optional PEM client_cert, '
            "client_key, ca_bundle for TLS-MA).",
            code="invalid",
        )
    try:
        return EndpointRegistration.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg'].removeprefix('Value error, ')}"
            for e in err.errors()
        )
        raise _bad_request(f"The endpoint is not valid: {problems}.", code="invalid") from None


def put_endpoint(
    request: ApiRequest, caller: Caller, store: EndpointStore, guard: AddressGuard, service_id: str, now: float
) -> ApiResponse:
    """``PUT /tkw/endpoints/{service_id}``: register (or replace) where responses go."""
    organisation = caller.organisation(request)
    service = _service_id(service_id)
    registration = _registration(request)
    try:
        check_endpoint(registration.url, guard)
    except EndpointRefused as err:
        raise _bad_request(f"The url cannot be used: {err}.", expression="url") from None
    if registration.client_cert or registration.ca_bundle:
        try:
            ssl_context(TlsOptions(registration.client_cert, registration.client_key, registration.ca_bundle))
        except (ValueError, OSError) as err:  # ssl.SSLError is an OSError
            raise _bad_request(f"The TLS material cannot be used: {err}.", expression="client_cert") from None
    existed = store.get(organisation, service) is not None
    endpoint = SenderEndpoint(
        organisation=organisation,
        service_id=service,
        url=registration.url,
        client_cert=registration.client_cert,
        client_key=registration.client_key,
        ca_bundle=registration.ca_bundle,
        updated_at=datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
    store.put(endpoint)
    response = _json(200 if existed else 201, {"organisation": organisation, **endpoint.public()})
    response.headers["Location"] = f"/tkw/endpoints/{service}"
    return response


def list_endpoints(request: ApiRequest, caller: Caller, store: EndpointStore) -> ApiResponse:
    """``GET /tkw/endpoints``: this organisation's endpoints (never their keys)."""
    organisation = caller.organisation(request)
    endpoints = sorted(store.list(organisation), key=lambda e: e.service_id)
    return _json(200, {"organisation": organisation, "endpoints": [e.public() for e in endpoints]})


def _not_registered(service: str) -> BarsError:
    return BarsError.of(
        404, "REC_NOT_FOUND", "not-found", f"No endpoint {service!r} is registered for your organisation."
    )


def delete_endpoint(request: ApiRequest, caller: Caller, store: EndpointStore, service_id: str) -> ApiResponse:
    """``DELETE /tkw/endpoints/{service_id}``: 204, or 404 when there was none."""
    organisation = caller.organisation(request)
    service = _service_id(service_id)
    if not store.delete(organisation, service):
        raise _not_registered(service)
    return ApiResponse(204, None, content_type=JSON)


def ping_endpoint(
    request: ApiRequest, caller: Caller, store: EndpointStore, transport: TransportFactory, service_id: str
) -> ApiResponse:
    """``POST /tkw/endpoints/{service_id}/ping``: ``GET {url}/metadata`` as the emulator would call it."""
    from tkw.outbound.messages import load_table, target_header

    organisation = caller.organisation(request)
    service = _service_id(service_id)
    endpoint = store.get(organisation, service)
    if endpoint is None:
        raise _not_registered(service)
    headers = [
        ("Accept", load_table().responder.accept),
        ("X-Request-Id", str(uuid.uuid4())),
        ("X-Correlation-Id", request.correlation_id or str(uuid.uuid4())),
    ]
    if service != DEFAULT_SERVICE:
        headers.append(("NHSD-Target-Identifier", target_header(service)))
    probe = PreparedRequest(test_id="ping", method="GET", url=f"{endpoint.url}/metadata", headers=tuple(headers))
    body: dict[str, Any] = {"service_id": service, "url": probe.url}
    try:
        answer = transport(endpoint).send(probe)
    except TransportError as err:
        body |= {"reachable": False, "failure": err.kind, "reason": err.reason}
    else:
        body |= {"reachable": True, "status": answer.status, "elapsed_ms": answer.elapsed_ms}
    return _json(200, body)
