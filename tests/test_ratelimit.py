"""The rate-limit counter under concurrency: a limit holds however many requests race."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from safeguards import ratelimit
from safeguards.models import RateLimitCounter

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="in-memory SQLite has one connection for all threads, so nothing can race; "
    "run with DATABASE_URL=postgres://... to test concurrency",
)
def test_twenty_concurrent_requests_against_a_limit_of_three_let_exactly_three_through():
    start = threading.Barrier(20)

    def attempt(_):
        try:
            start.wait()  # Release all twenty at once.
            return ratelimit.allow("race", "victim@example.com", limit=3, window_seconds=60)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(attempt, range(20)))

    assert results.count(True) == 3
    assert RateLimitCounter.objects.get().count == 20


def test_limit_counts_per_key_and_starts_again_after_the_window(monkeypatch):
    allowed = [ratelimit.allow("scope", "a", limit=2, window_seconds=60) for _ in range(3)]
    other_key = ratelimit.allow("scope", "b", limit=2, window_seconds=60)
    other_scope = ratelimit.allow("elsewhere", "a", limit=2, window_seconds=60)

    assert allowed == [True, True, False]
    assert other_key and other_scope

    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    assert ratelimit.allow("scope", "a", limit=2, window_seconds=60)


def test_counters_store_no_address_and_expired_ones_are_pruned(monkeypatch):
    ratelimit.allow("scope", "ann@example.com", limit=1, window_seconds=60)
    ratelimit.allow("scope", "bob@example.com", limit=1, window_seconds=3600)

    assert not RateLimitCounter.objects.filter(key__contains="example.com").exists()

    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    assert ratelimit.prune() == 1
    assert RateLimitCounter.objects.count() == 1
