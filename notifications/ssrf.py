"""Which addresses a webhook may be sent to.

A webhook URL is chosen by a member, so without a guard it is a way to make this server
call anything it can reach: the database, the cloud metadata service at 169.254.169.254,
an admin port on localhost. Only globally routable addresses are allowed. The check runs
at registration (for a clear form error) and again at every delivery, on the addresses
the name resolves to at that moment; the delivery then connects to the very address that
was checked, so a second, different DNS answer (DNS rebinding) is never used.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

# NAT64 (RFC 6052) embeds an IPv4 address in the last 32 bits; the embedded one decides.
NAT64_PREFIXES = [ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48")]


class UnsafeURL(ValueError):
    """The URL may not be called; the message says why, for the member to read."""


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if any(address in prefix for prefix in NAT64_PREFIXES):
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    # is_global is False for loopback, private, link-local, unique-local, shared (CGNAT),
    # reserved, unspecified and documentation ranges; multicast needs its own test.
    return address.is_global and not address.is_multicast


def target(url: str) -> tuple[str, str, int]:
    """Split a webhook URL into (scheme, host, port), refusing anything but http(s)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeURL(f"That URL can't be parsed: {error}.") from error
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("Webhook URLs must start with http:// or https://.")
    if not parts.hostname:
        raise UnsafeURL("Webhook URLs need a host name.")
    if parts.username or parts.password:
        raise UnsafeURL("Webhook URLs can't carry a user name or password.")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to now, refusing all of them if any is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeURL(f"The host name {host!r} doesn't resolve.") from error
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES:
        for address in addresses:
            # getaddrinfo may append a scope ("fe80::1%eth0") to link-local addresses.
            if not is_public(ipaddress.ip_address(address.split("%")[0])):
                raise UnsafeURL(
                    f"{host} resolves to {address}, which is not a public internet address."
                )
    return addresses


def check_url(url: str) -> None:
    """Raise UnsafeURL unless a delivery to this URL would be allowed right now."""
    _, host, port = target(url)
    resolve(host, port)
