"""Transport-neutral request and response types.

An API Gateway REST (v1) proxy event becomes an :class:`ApiRequest`; the pipeline answers with an
:class:`ApiResponse` that a handler turns back into a proxy result. Header names are matched
case-insensitively, as API Gateway and the BaRS proxy do.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

FHIR_JSON = "application/fhir+json"
# An NHS number (10 digits, or 3-3-4 with spaces or hyphens, not inside a hex run such as a UUID):
# senders put them where ids go (/Appointment/<NHS number>), so paths are logged with them masked.
_NHS_NUMBER_LIKE = re.compile(
    r"(?<![0-9A-Fa-f])(?:[0-9]{10}|[0-9]{3} [0-9]{3} [0-9]{4}|[0-9]{3}-[0-9]{3}-[0-9]{4})(?![0-9A-Fa-f])"
)


# A share link's token is the credential to a report: /tkw/shared/<token>, /tkw/shares/<token>.
_SHARE_TOKEN = re.compile(r"(/tkw/share[sd]/)[^/?]+")


def loggable_path(path: str) -> str:
    """``path`` for the logs: share tokens and anything shaped like an NHS number masked, at most 200 characters."""
    return _NHS_NUMBER_LIKE.sub("[nhs-number?]", _SHARE_TOKEN.sub(r"\1[token]", path)[:200])


_NONE: Mapping[str, Any] = MappingProxyType({})


class ApiRequest(NamedTuple):
    # A named tuple, like the other immutable records on the request path: a frozen dataclass
    # costs ~1 ms of every cold start to define, a named tuple a fifth of that (issue 13).
    method: str
    path: str
    # Lower-cased header name -> every value sent (API Gateway multiValueHeaders).
    headers: Mapping[str, tuple[str, ...]] = _NONE
    query: Mapping[str, tuple[str, ...]] = _NONE
    path_params: Mapping[str, str] = _NONE
    body: bytes | None = None
    # Where the caller reached us, e.g. "https://abc.execute-api.eu-west-2.amazonaws.com/dev";
    # used for Bundle.link self and the OAuth2 token audience.
    base_url: str = ""
    request_time_epoch_ms: int = 0

    def header(self, name: str) -> str | None:
        """First value of a header, or None when absent."""
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def header_values(self, name: str) -> tuple[str, ...]:
        return self.headers.get(name.lower(), ())

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def params(self, name: str) -> tuple[str, ...]:
        return self.query.get(name, ())

    @property
    def request_id(self) -> str | None:
        return self.header("x-request-id")

    @property
    def correlation_id(self) -> str | None:
        return self.header("x-correlation-id")

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> ApiRequest:
        """Build from an API Gateway REST (v1) proxy event (multi-value fields preferred)."""
        headers: dict[str, tuple[str, ...]] = {}
        multi_headers = event.get("multiValueHeaders") or {}
        if multi_headers:
            for name, values in multi_headers.items():
                if values is None:
                    continue
                key = name.lower()
                headers[key] = headers.get(key, ()) + tuple(str(v) for v in values)
        else:
            for name, value in (event.get("headers") or {}).items():
                if value is not None:
                    key = name.lower()
                    headers[key] = (*headers.get(key, ()), str(value))

        query: dict[str, tuple[str, ...]] = {}
        multi_query = event.get("multiValueQueryStringParameters") or {}
        if multi_query:
            query = {k: tuple(str(v) for v in vs) for k, vs in multi_query.items() if vs is not None}
        else:
            query = {k: (str(v),) for k, v in (event.get("queryStringParameters") or {}).items() if v is not None}

        raw_body = event.get("body")
        body: bytes | None
        if raw_body is None:
            body = None
        elif event.get("isBase64Encoded"):
            try:
                body = base64.b64decode(raw_body)
            except (ValueError, TypeError):
                body = str(raw_body).encode()
        else:
            body = str(raw_body).encode("utf-8", "surrogateescape")

        context = event.get("requestContext") or {}
        host = _first(headers.get("host")) or context.get("domainName") or "127.0.0.1"
        proto = _first(headers.get("x-forwarded-proto")) or "https"
        stage = context.get("stage") or ""
        # API Gateway's default execute-api host carries the stage in the path; custom domains
        # and the local runner do not.
        prefix = f"/{stage}" if stage and ".execute-api." in host else ""
        return cls(
            method=str(event.get("httpMethod") or "GET").upper(),
            path=str(event.get("path") or "/"),
            headers=headers,
            query=query,
            path_params={k: str(v) for k, v in (event.get("pathParameters") or {}).items()},
            body=body,
            base_url=f"{proto}://{host}{prefix}",
            request_time_epoch_ms=int(context.get("requestTimeEpoch") or 0),
        )


def _first(values: tuple[str, ...] | None) -> str | None:
    return values[0] if values else None


@dataclass(slots=True)
class ApiResponse:
    status: int
    body: Any = None  # dict/list -> JSON; str/bytes -> as is; None -> empty
    content_type: str = FHIR_JSON
    headers: dict[str, str] = field(default_factory=dict)

    def body_text(self) -> str:
        if self.body is None:
            return ""
        if isinstance(self.body, bytes):
            return self.body.decode()
        if isinstance(self.body, str):
            return self.body
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False)
