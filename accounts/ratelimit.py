"""Fixed-window rate limits, counted atomically in the database every web process shares.

One statement both counts an attempt and reads the new count:

    INSERT ... ON CONFLICT (key) DO UPDATE SET count = count + 1 ... RETURNING count

so twenty requests racing against a limit of three get the counts 1 to 20, and exactly
three of them pass. A read-then-write through the cache (get, add one, set) lets all
twenty read the same count. SQLite (3.35+) and PostgreSQL both run this statement.
"""

import hashlib
import ipaddress
import logging
import time
from functools import cache

from django.conf import settings
from django.db import connection

from .models import RateLimitCounter

logger = logging.getLogger(__name__)


def allow(scope: str, key: str, limit: int, window_seconds: int) -> bool:
    """Count one attempt for `key`; return False once it has had `limit` in this window.

    The window starts at the first attempt and lasts `window_seconds`; after it the count
    starts again from one. Refused attempts count too, so hammering doesn't reset anything.
    """
    now = time.time()
    table = connection.ops.quote_name(RateLimitCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} ("key", "count", "resets_at") VALUES (%s, 1, %s)
            ON CONFLICT ("key") DO UPDATE SET
                "count" = CASE WHEN {table}."resets_at" > %s
                    THEN {table}."count" + 1 ELSE 1 END,
                "resets_at" = CASE WHEN {table}."resets_at" > %s
                    THEN {table}."resets_at" ELSE excluded."resets_at" END
            RETURNING "count"
            """,  # noqa: S608  Only the table name is interpolated, and it is ours.
            [counter_key(scope, key), now + window_seconds, now, now],
        )
        (count,) = cursor.fetchone()
    return count <= limit


def forget(scope: str, key: str) -> None:
    """Start `key`'s count in `scope` again from nothing."""
    RateLimitCounter.objects.filter(key=counter_key(scope, key)).delete()


def counter_key(scope: str, key: str) -> str:
    return f"{scope}:{hashlib.sha256(key.encode()).hexdigest()}"


def prune() -> int:
    """Delete the counters whose window is over; return how many."""
    deleted, _ = RateLimitCounter.objects.filter(resets_at__lte=time.time()).delete()
    return deleted


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
