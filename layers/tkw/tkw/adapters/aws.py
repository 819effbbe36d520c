"""boto3 clients, created lazily and once per process.

``TKW_AWS_ENDPOINT_URL`` (a template parameter, empty when deployed) points them at a standalone
moto server under ``sam local``; otherwise boto3's own ``AWS_ENDPOINT_URL`` handling applies.
"""

from __future__ import annotations

import os
import threading
from typing import Any

_clients: dict[str, Any] = {}
_lock = threading.Lock()


def client(service: str, *, validated: bool = True) -> Any:
    """The process's client of ``service``. ``validated=False``: without botocore's client-side
    parameter validation (the service validates every request anyway), for adapters whose requests
    are built entirely by their own code from typed records."""
    key = service if validated else f"{service}#unvalidated"
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:  # boto3's default session is not safe to use from threads concurrently
        if key not in _clients:
            import boto3
            from botocore.config import Config

            _clients[key] = boto3.client(
                service,  # type: ignore[call-overload]
                endpoint_url=os.environ.get("TKW_AWS_ENDPOINT_URL") or None,
                config=Config(
                    retries={"max_attempts": 3, "mode": "standard"},
                    max_pool_connections=50,
                    # No client-side body checksums unless an API requires them: less CPU per call.
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                    parameter_validation=validated,
                ),
            )
        return _clients[key]


def reset_clients() -> None:
    """Forget cached clients (tests switch between moto backends)."""
    with _lock:
        _clients.clear()


class DynamoTable:
    """Base of the table adapters: the table's name and a DynamoDB client resolved on use.

    Resolved on use, never at import: a client made before moto starts would not be mocked. Tests
    may inject one (e.g. pointed at moto's server).
    """

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        return self._client if self._client is not None else client("dynamodb")
