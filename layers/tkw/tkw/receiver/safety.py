"""Where a receiver run may send requests: no SSRF into the account that runs the emulator.

A deployed emulator sends requests from inside an AWS account on a user's say-so. Unless private
receivers are allowed (the local runner allows them), every address a host name resolves to must
be a public one: loopback, private, link-local (the instance metadata service at 169.254.169.254),
shared, reserved, multicast and unspecified addresses are refused. The transport connects to the
very addresses checked here, so a second DNS answer cannot swap in a private one (rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit


class EndpointRefused(ValueError):
    """The endpoint may not be called from here; ``str()`` says why."""


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def non_public_reason(ip: IpAddress) -> str | None:
    """Why ``ip`` is not a public unicast address, or None when it is one."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return non_public_reason(ip.ipv4_mapped)
    for attribute, label in (
        ("is_unspecified", "an unspecified"),
        ("is_loopback", "a loopback"),
        ("is_link_local", "a link-local"),
        ("is_multicast", "a multicast"),
        ("is_reserved", "a reserved"),
        ("is_private", "a private"),
    ):
        if getattr(ip, attribute):
            return f"{label} address"
    if not ip.is_global:
        return "a non-public address"
    return None


@dataclass(frozen=True, slots=True)
class AddressGuard:
    """Resolves a host and refuses non-public addresses unless ``allow_private``."""

    allow_private: bool = False

    def resolve(self, host: str, port: int) -> list[str]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as err:
            raise EndpointRefused(f"the host name {host} cannot be resolved ({err})") from None
        addresses: list[str] = []
        for info in infos:
            address = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise EndpointRefused(f"the host name {host} resolves to no address")
        if not self.allow_private:
            for address in addresses:
                reason = non_public_reason(ipaddress.ip_address(address))
                if reason:
                    raise EndpointRefused(
                        f"{host} resolves to {address}, {reason}: this emulator only calls public receivers "
                        "(set AllowPrivateReceivers / ALLOW_PRIVATE_RECEIVERS=true to allow it)"
                    )
        return addresses


def check_endpoint(endpoint: str, guard: AddressGuard) -> None:
    """Early refusal for the API (the transport checks again when it connects)."""
    parts = urlsplit(endpoint)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise EndpointRefused("the endpoint must be an http:// or https:// URL with a host")
    guard.resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
