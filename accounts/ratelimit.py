"""Fixed-window rate limits kept in the default cache, shared by every web process."""

import hashlib
import time

from django.conf import settings
from django.core.cache import cache


def allow(scope: str, key: str, limit: int, window_seconds: int) -> bool:
    """Count one attempt for `key`; return False once it has had `limit` in this window.

    Not atomic: two requests at the same instant may both pass. For throttling email
    that is close enough, and it works with any cache backend, the database one included.
    """
    now = int(time.time())
    window = now // window_seconds
    digest = hashlib.sha256(key.encode()).hexdigest()
    cache_key = f"ratelimit:{scope}:{window}:{digest}"
    count = cache.get(cache_key, 0) + 1
    cache.set(cache_key, count, timeout=window_seconds - now % window_seconds + 1)
    return count <= limit


def client_address(request) -> str:
    """The caller's IP address, read past the TRUSTED_PROXY_COUNT proxies in front of us.

    Behind a platform router REMOTE_ADDR is the router, shared by everyone; the address
    the nearest trusted proxy saw is the last-but-(n-1) entry of X-Forwarded-For.
    Earlier entries are whatever the client chose to send, so they are never trusted.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")
