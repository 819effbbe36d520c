"""Sending one request to the receiver: pinned addresses, TLS-MA, a hard per-request deadline.

Standard library only (``http.client`` + ``ssl``): the layer needs no HTTP client package, and
we control every step. The host is resolved and checked by :class:`AddressGuard`, then the socket
connects to exactly those addresses while TLS still verifies the certificate against the host name
(SNI and hostname checking). Redirects are not followed. A watchdog closes the socket at the
deadline, so a receiver that drips bytes cannot hold a worker beyond the timeout.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlsplit

from tkw.receiver.builder import PreparedRequest
from tkw.receiver.safety import AddressGuard, EndpointRefused

FailureKind = Literal["refused", "connect", "tls", "timeout", "protocol"]
MAX_BODY_BYTES = 10 * 1024 * 1024


class TransportError(Exception):
    """No HTTP answer came back. ``kind`` says at which step, ``reason`` says why."""

    def __init__(self, kind: FailureKind, reason: str) -> None:
        super().__init__(reason)
        self.kind: FailureKind = kind
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    elapsed_ms: float
    truncated: bool = False

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class Transport(Protocol):
    def send(self, request: PreparedRequest) -> Answer: ...


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """PEM texts: the client certificate TKW presents, its key, and the CAs it trusts."""

    client_cert: str | None = None
    client_key: str | None = None
    ca_bundle: str | None = None

    @property
    def mutual(self) -> bool:
        return bool(self.client_cert and self.client_key)


def ssl_context(tls: TlsOptions | None) -> ssl.SSLContext:
    """Verifying client context: the given CA bundle (else the system's), plus the client cert."""
    context = ssl.create_default_context(cadata=tls.ca_bundle if tls and tls.ca_bundle else None)
    if tls and tls.mutual:
        assert tls.client_cert and tls.client_key
        # ssl loads certificate chains only from files: write them to a private directory, load,
        # and delete at once.
        with tempfile.TemporaryDirectory(prefix="tkw-tls-") as folder:
            cert, key = os.path.join(folder, "client.pem"), os.path.join(folder, "client-key.pem")
            for file, text in ((cert, tls.client_cert), (key, tls.client_key)):
                descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "w", encoding="ascii") as out:
                    out.write(text)
            try:
                context.load_cert_chain(cert, key)
            except ssl.SSLError as err:
                raise ValueError(f"the client certificate and key cannot be used together ({err.reason})") from None
    return context


class HttpTransport:
    def __init__(
        self,
        guard: AddressGuard,
        timeout: float = 10.0,
        tls: TlsOptions | None = None,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        self.guard = guard
        self.timeout = timeout
        self.tls = tls
        self.max_body = max_body
        self._context: ssl.SSLContext | None = None
        self._lock = threading.Lock()

    def _ssl(self) -> ssl.SSLContext:
        with self._lock:
            if self._context is None:
                self._context = ssl_context(self.tls)
            return self._context

    def _hint(self) -> str:
        # A TLS 1.3 server refusing a client without a certificate often shows only as an EOF.
        if self.tls and self.tls.mutual:
            return ""
        return " (no client certificate was presented; a receiver requiring TLS-MA refuses such clients)"

    def send(self, request: PreparedRequest) -> Answer:
        parts = urlsplit(request.url)
        host = parts.hostname or ""
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        try:
            addresses = self.guard.resolve(host, port)
        except EndpointRefused as err:
            raise TransportError("refused", str(err)) from None
        started = time.perf_counter()
        deadline = started + self.timeout
        sock = _connect(host, addresses, port, deadline)
        expired = threading.Event()
        # wrap_socket detaches the plain socket: the watchdog must close whichever is current.
        current = [sock]

        def expire() -> None:
            expired.set()
            with contextlib.suppress(OSError):
                current[0].shutdown(socket.SHUT_RDWR)

        watchdog = threading.Timer(max(deadline - time.perf_counter(), 0.0), expire)
        watchdog.daemon = True
        watchdog.start()
        stream: socket.socket = sock
        try:
            if secure:
                try:
                    stream = self._ssl().wrap_socket(sock, server_hostname=host)
                    current[0] = stream
                except ssl.SSLCertVerificationError as err:
                    raise TransportError(
                        "tls", f"the receiver's certificate was not accepted: {err.verify_message}"
                    ) from None
                except (ssl.SSLError, ConnectionError) as err:
                    if expired.is_set():
                        raise _timeout(self.timeout) from None
                    raise TransportError("tls", f"the TLS handshake failed: {_describe(err)}{self._hint()}") from None
            return self._exchange(stream, parts.netloc, request, started, host)
        except TransportError:
            raise
        except TimeoutError:
            raise _timeout(self.timeout) from None
        except ssl.SSLError as err:
            if expired.is_set():
                raise _timeout(self.timeout) from None
            raise TransportError("tls", f"the receiver ended the TLS session: {_describe(err)}{self._hint()}") from None
        except (http.client.HTTPException, OSError) as err:
            if expired.is_set():
                raise _timeout(self.timeout) from None
            if secure and isinstance(err, ConnectionError | http.client.RemoteDisconnected):
                # A TLS 1.3 server that rejects the client certificate does so after the client
                # thinks the handshake is done: the first read then finds the connection gone.
                raise TransportError(
                    "tls", f"the receiver closed the TLS connection without answering: {_describe(err)}{self._hint()}"
                ) from None
            raise TransportError("protocol", f"no valid HTTP answer: {_describe(err)}") from None
        finally:
            watchdog.cancel()
            with contextlib.suppress(OSError):
                stream.close()

    def _exchange(
        self, stream: socket.socket, netloc: str, request: PreparedRequest, started: float, host: str
    ) -> Answer:
        parts = urlsplit(request.url)
        connection = http.client.HTTPConnection(host, timeout=self.timeout)
        connection.sock = stream  # already connected (and wrapped): http.client will not reconnect
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"Host": netloc, **dict(request.headers)}
        connection.request(request.method, target, body=request.body, headers=headers)
        response = connection.getresponse()
        chunks: list[bytes] = []
        size = 0
        truncated = False
        while True:
            chunk = response.read(64 * 1024)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > self.max_body:
                truncated = True
                break
        body = b"".join(chunks)[: self.max_body]
        return Answer(
            status=response.status,
            headers=tuple((k, v) for k, v in response.getheaders()),
            body=body,
            elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
            truncated=truncated,
        )


def _connect(host: str, addresses: list[str], port: int, deadline: float) -> socket.socket:
    last: str = "no address to try"
    for address in addresses:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            break
        try:
            sock = socket.create_connection((address, port), timeout=remaining)
            sock.settimeout(max(deadline - time.perf_counter(), 0.001))
            return sock
        except TimeoutError:
            last = f"{address}: no answer within the timeout"
        except OSError as err:
            last = f"{address}: {err.strerror or err}"
    raise TransportError("connect", f"cannot connect to {host}:{port} ({last})")


def _timeout(seconds: float) -> TransportError:
    return TransportError("timeout", f"the receiver did not answer within {seconds:g} s")


def _describe(err: BaseException) -> str:
    if isinstance(err, ssl.SSLError) and err.reason:
        return str(err.reason).replace("_", " ").lower()
    text = str(err) or type(err).__name__
    return text
