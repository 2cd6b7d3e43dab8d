"""Password hashers that take turns: a web process runs at most a few hashes at once.

A password hash is slow on purpose. Argon2id as set here holds about 0.02 s of CPU and
19 MiB of memory; PBKDF2, Django's default, about fifteen times the CPU.
With threaded web workers nothing stops forty logins from hashing at the same moment:
every request on the machine then shares the cores with them, cheap pages included, and
memory grows with each.
Here a hash beyond PASSWORD_HASHING_CONCURRENCY waits for its turn, asleep, so the
threads serving other pages keep the CPU they need, and memory stays bounded.

A request waiting for its turn still holds a web thread, and gunicorn hands requests to
threads in arrival order: if every thread waited, pages would queue behind the crowd.
So the line is short and the wait is bounded. At most PASSWORD_HASHING_LINE requests
per process hash or wait (fewer than its threads), and none waits longer than
PASSWORD_HASHING_TIMEOUT seconds. Past either, HashingBusy: the visitor is asked to try
again in a moment (HashingBusyMiddleware, below), and the thread goes back to serving pages.

The algorithms and their stored format are Django's own: a hash made here verifies
with Django's hashers, and the other way round.
"""

import logging
import threading
from contextlib import contextmanager
from functools import cache

from django.conf import settings
from django.contrib.auth import hashers
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

logger = logging.getLogger(__name__)

_holding = threading.local()

# The longest a request waits for its turn to hash, holding a web thread meanwhile.
PASSWORD_HASHING_TIMEOUT = 20


class HashingBusy(Exception):
    """The line to hash in this process is full, or the turn didn't come in time."""


@cache
def _semaphore(purpose: str, size: int) -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(size)


@contextmanager
def turn():
    """Wait for a free hashing slot in this process; re-entrant within a thread.

    Raises HashingBusy when the line is full or the slot doesn't come in time.
    """
    if getattr(_holding, "turn", False):
        yield
        return
    line = _semaphore("line", settings.PASSWORD_HASHING_LINE)
    if not line.acquire(blocking=False):
        raise HashingBusy("the line to hash a password is full")
    try:
        turns = _semaphore("turns", settings.PASSWORD_HASHING_CONCURRENCY)
        if not turns.acquire(timeout=PASSWORD_HASHING_TIMEOUT):
            raise HashingBusy("no turn to hash a password came in time")
        _holding.turn = True
        try:
            yield
        finally:
            _holding.turn = False
            turns.release()
    finally:
        line.release()


class TakesTurns:
    def encode(self, password, salt, *args, **kwargs):
        with turn():
            return super().encode(password, salt, *args, **kwargs)

    def verify(self, password, encoded):
        with turn():
            return super().verify(password, encoded)


class Argon2PasswordHasher(TakesTurns, hashers.Argon2PasswordHasher):
    """Django's Argon2id hasher at OWASP's minimum cost: 19 MiB, 2 passes, 1 lane.

    Django's own settings (100 MiB, 2 passes, 8 lanes) cost about eight times the CPU per
    hash, and each hash holds a core for that long: forty signups at once need both cores
    for more than three seconds, and a flood of wrong passwords needs an eighth as many
    guesses a second to keep them busy. The price: a guess on a stolen database fills
    19 MiB twice instead of 100 MiB twice, so it costs at least five times less than at
    Django's Argon2 setting. It is still memory-hard, which PBKDF2, Django's default
    hasher, is not (docs/web.md weighs the two). One lane: lanes spread a single hash
    over several cores, which a crowd keeps busy anyway.

    Hashes made with other settings still verify, and are made again with these at the
    member's next login (Django's must_update()); until then they cost what they cost
    before. To pay more per hash, subclass this with other costs and list it first.
    """

    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1


class PBKDF2PasswordHasher(TakesTurns, hashers.PBKDF2PasswordHasher):
    pass


class PBKDF2SHA1PasswordHasher(TakesTurns, hashers.PBKDF2SHA1PasswordHasher):
    pass


RETRY_AFTER_SECONDS = 5


class HashingBusyMiddleware:
    """Turn HashingBusy into a 503 that asks the visitor to retry.

    The hash comes before anything is saved (Django sets a password on the user before
    saving it), so nothing is half-written: the visitor sends the same form again. The
    attempt has been counted by the login or signup throttle, like any other.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, HashingBusy):
            return None
        # The view's name, not the path: a confirmation link's path holds its token.
        view = request.resolver_match.view_name if request.resolver_match else "?"
        logger.warning("Busy: answered 503 to %s (%s)", view, exception)
        response = render(request, "busy.html", status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        add_never_cache_headers(response)
        return response
