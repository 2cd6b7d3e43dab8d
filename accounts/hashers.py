"""Django's password hashers, taking turns: a process runs at most PASSWORD_HASHING_CONCURRENCY
hashes at once, and at most PASSWORD_HASHING_LINE requests hash or wait. Past the line, or
after PASSWORD_HASHING_TIMEOUT, HashingBusy: a 503 asking to retry. docs/web.md says why.

The stored format is Django's: a hash made here verifies with Django's hashers, and back.
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
    """Wait for a free hashing slot in this process (re-entrant within a thread); raise
    HashingBusy when the line is full or the slot doesn't come in time."""
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

    About an eighth of the CPU of Django's cost, and still memory-hard (docs/web.md weighs
    the trade). Hashes made at other costs verify, and are re-made at the next login. To
    pay more per hash, subclass this with other costs and list it first.
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
    """Turn HashingBusy into a 503 that asks the visitor to send the form again.

    Nothing is half-written: a password is hashed before anything is saved.
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
