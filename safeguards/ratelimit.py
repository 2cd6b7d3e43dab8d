"""Fixed-window rate limits, counted atomically in the database every web process shares.

One statement both counts an attempt and reads the new count:

    INSERT ... ON CONFLICT (key) DO UPDATE SET count = count + 1 ... RETURNING count

so twenty requests racing against a limit of three get the counts 1 to 20, and exactly
three of them pass. A read-then-write through the cache (get, add one, set) lets all
twenty read the same count. SQLite (3.35+) and PostgreSQL both run this statement.
"""

import hashlib
import time

from django.db import connection

from .models import RateLimitCounter


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
