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
import threading
from urllib.parse import urlsplit

from django.conf import settings

# Registering an endpoint resolves its name inside the web request: at most this long.
REGISTRATION_DNS_TIMEOUT = 2

# NAT64 with the well-known prefix (RFC 6052) embeds an IPv4 address in the last 32
# bits; the embedded one decides.
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")

# Refused whatever Python's is_global says of them (it follows the IANA registry, which
# leaves these "global" or decodes them too trustingly).
NEVER_PUBLIC = [
    # Local-use NAT64 (RFC 8215): where the IPv4 address sits depends on the operator's
    # prefix length, so it can't be decoded safely; one may embed a private address.
    ipaddress.ip_network("64:ff9b:1::/48"),
    # IPv4-compatible (deprecated): some stacks still route ::127.0.0.1 to loopback.
    ipaddress.ip_network("::/96"),
    # IPv4-translated (SIIT, RFC 2765): ::ffff:0:7f00:1 is 127.0.0.1 behind a translator.
    ipaddress.ip_network("::ffff:0:0:0/96"),
    # Site-local (deprecated, RFC 3879), still routed inside some networks.
    ipaddress.ip_network("fec0::/10"),
    # Documentation (RFC 9637).
    ipaddress.ip_network("3fff::/20"),
    # Azure's WireServer: a public-looking address that only answers from inside Azure,
    # with the host's own configuration and agent endpoints.
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
    """getaddrinfo, giving up after `timeout` seconds.

    getaddrinfo takes no time-out and the system resolver may wait far longer than a web
    request or a delivery can, so it runs in a daemon thread that is left behind (to end
    when the resolver gives up) if it is too slow. Raises TimeoutError or OSError.
    """
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

    Raises UnsafeURL, or TimeoutError when resolving takes longer than `timeout`. A name
    that doesn't resolve and one that resolves to a private address get the same message,
    which never names an address: which internal names exist, and what they resolve to,
    is not a member's business.
    """
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
    """Raise UnsafeURL unless a delivery to this URL would be allowed right now.

    Resolving the name is bounded by REGISTRATION_DNS_TIMEOUT, since this runs inside a
    web request.
    """
    _, host, port = target(url)
    try:
        resolve(host, port, REGISTRATION_DNS_TIMEOUT)
    except TimeoutError as error:
        raise UnsafeURL(f"{error} Check the name, or try again in a moment.") from error
