"""Which addresses a webhook may be sent to: only globally routable ones (the SSRF guard).

Checked at registration and at every attempt, which then connects to the address checked.
"""

import ipaddress
import socket
import threading
from urllib.parse import urlsplit

from django.conf import settings

# Registering an endpoint resolves its name inside the web request: at most this long.
REGISTRATION_DNS_TIMEOUT = 2

# NAT64 with the well-known prefix (RFC 6052) embeds an IPv4 address in the last 32
# bits; the embedded one decides.
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")

# Refused whatever is_global says (it follows the IANA registry, too trustingly here).
NEVER_PUBLIC = [
    # Local-use NAT64 (RFC 8215): its IPv4 address can't be decoded without the prefix length.
    ipaddress.ip_network("64:ff9b:1::/48"),
    # IPv4-compatible (deprecated): some stacks still route ::127.0.0.1 to loopback.
    ipaddress.ip_network("::/96"),
    # IPv4-translated (SIIT, RFC 2765): ::ffff:0:7f00:1 is 127.0.0.1 behind a translator.
    ipaddress.ip_network("::ffff:0:0:0/96"),
    # Site-local (deprecated, RFC 3879), still routed inside some networks.
    ipaddress.ip_network("fec0::/10"),
    # Documentation (RFC 9637).
    ipaddress.ip_network("3fff::/20"),
    # Azure's WireServer: public-looking, it serves the host's configuration inside Azure.
    ipaddress.ip_network("168.63.129.16/32"),
]


class UnsafeURL(ValueError):
    """The URL may not be called; the message says why, for the member to read."""


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if any(address in network for network in NEVER_PUBLIC):
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if address in NAT64_WELL_KNOWN:
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


def lookup(host: str, port: int, timeout: float) -> list[str]:
    """getaddrinfo, giving up after `timeout` seconds: it takes no time-out, so it runs in
    a daemon thread, left behind if slow. Raises TimeoutError or OSError."""
    outcome: list = []

    def run():
        try:
            outcome.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError) as error:
            outcome.append(error)

    thread = threading.Thread(target=run, name=f"getaddrinfo {host}", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        raise TimeoutError(f"The host name {host} didn't resolve within {timeout:g} s.")
    if isinstance(outcome[0], Exception):
        raise outcome[0]
    return list(dict.fromkeys(info[4][0] for info in outcome[0]))


def resolve(host: str, port: int, timeout: float) -> list[str]:
    """Every address `host` resolves to now, refusing all of them if any is not public.

    Raises TimeoutError after `timeout`, or UnsafeURL with one message, naming no address,
    whether the name is private or doesn't resolve."""
    refused = UnsafeURL(f"{host} is not a public internet address, or doesn't resolve.")
    try:
        addresses = lookup(host, port, timeout)
    except TimeoutError:
        raise
    except (OSError, UnicodeError) as error:
        raise refused from error
    if not settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES:
        for address in addresses:
            # getaddrinfo may append a scope ("fe80::1%eth0") to link-local addresses.
            if not is_public(ipaddress.ip_address(address.split("%")[0])):
                raise refused
    return addresses


def check_url(url: str) -> None:
    """Raise UnsafeURL unless a delivery to this URL would be allowed right now, resolving
    it within REGISTRATION_DNS_TIMEOUT."""
    _, host, port = target(url)
    try:
        resolve(host, port, REGISTRATION_DNS_TIMEOUT)
    except TimeoutError as error:
        raise UnsafeURL(f"{error} Check the name, or try again in a moment.") from error
