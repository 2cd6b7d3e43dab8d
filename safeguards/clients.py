"""Who is asking: the client's address that per-client rate limits count by."""

import ipaddress
import logging
from functools import cache

from django.conf import settings

logger = logging.getLogger(__name__)


def client_address(request) -> str:
    """Who is asking, for per-client limits: the caller's IPv4 address, or its IPv6 /64.

    Behind a platform router REMOTE_ADDR is the router, shared by everyone; the address
    the nearest trusted proxy saw is the last-but-(n-1) entry of X-Forwarded-For.
    Earlier entries are whatever the client chose to send, so they are never trusted,
    and with no proxy configured (the default) the header is ignored altogether.

    One IPv6 client is usually given a whole /64 and can pick a new address from it for
    every request, so the /64 is the client.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    parsed = None
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            parsed = ip_address(forwarded[-proxies])
    elif "HTTP_X_FORWARDED_FOR" in request.META:
        warn_about_an_unconfigured_proxy(remote)
    # An entry that isn't an address counts as the proxy itself, never as a new client
    # for each new string.
    parsed = parsed or ip_address(remote)
    if parsed is None:
        return remote
    if parsed.version == 4:
        return str(parsed)
    if parsed.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is an IPv4 client.
        return str(parsed.ipv4_mapped)
    return str(ipaddress.IPv6Network((parsed, 64), strict=False))


def ip_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address in an X-Forwarded-For entry or REMOTE_ADDR, port or not; None if none.

    Some proxies write "192.0.2.1:5555" or "[2001:db8::1]:5555": a client's new source
    port for each request must not make it a new client.
    """
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def warn_about_an_unconfigured_proxy(remote: str) -> None:
    """Say so, once per process, when a private address forwards requests we don't trust.

    With TRUSTED_PROXY_COUNT left at 0 behind a platform's router, every visitor is the
    router: one client's share of logins (30 wrong passwords) stops everyone's. A client
    on the internet can send X-Forwarded-For too, but not from a private address.
    """
    address = ip_address(remote)
    if address is not None and address.is_private:
        _warn_once()


@cache
def _warn_once() -> None:
    logger.warning(
        "Requests come through a proxy (they carry X-Forwarded-For from a private "
        "address), but TRUSTED_PROXY_COUNT is 0: every visitor counts as that proxy for "
        "rate limits, so a few bad logins from anyone stop logins for everyone. Set "
        "TRUSTED_PROXY_COUNT to the number of proxies in front of the site "
        "(docs/production.md)."
    )
