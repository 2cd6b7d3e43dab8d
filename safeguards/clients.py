"""Who is asking: the client's address that per-client rate limits count by."""

import ipaddress
import logging
from functools import cache

from django.conf import settings

logger = logging.getLogger(__name__)


def client_address(request) -> str:
    """Who is asking, for per-client limits: the caller's IPv4 address, or its IPv6 /64.

    With n = TRUSTED_PROXY_COUNT proxies, the n-th X-Forwarded-For entry from the end, the
    one the outermost proxy wrote; entries before it are the client's to forge. With 0, REMOTE_ADDR.
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
    """The address in an X-Forwarded-For entry or REMOTE_ADDR, without the port some proxies
    add ("[2001:db8::1]:5555"), so a new source port is no new client; None if none."""
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def warn_about_an_unconfigured_proxy(remote: str) -> None:
    """Say so, once per process, when a private address forwards requests we don't trust:
    a router in front while TRUSTED_PROXY_COUNT is 0 (a client on the internet can send
    X-Forwarded-For too, but not from a private address)."""
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
