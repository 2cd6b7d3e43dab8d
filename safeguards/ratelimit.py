"""Fixed-window rate limits, counted in the database every web process shares by one upsert
with RETURNING: racing requests never read the same count, as they would with a cache
get-then-set (docs/accounts.md). Needs SQLite 3.35+ or PostgreSQL.
"""

import hashlib
import time

from django.db import connection

from .models import RateLimitCounter


def allow(scope: str, key: str, limit: int, window_seconds: int) -> bool:
    """Count one attempt for `key`; return False once it has had `limit` in this window.

    The window lasts `window_seconds` from its first attempt. Refused attempts count too.
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
