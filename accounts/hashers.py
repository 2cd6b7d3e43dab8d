"""Password hashers that take turns: a web process runs at most a few hashes at once.

A password hash is slow on purpose. Argon2id at Django's cost holds about 0.2 s of CPU
and 100 MiB of memory, PBKDF2 about twice the CPU. With threaded web workers nothing
stops forty logins from hashing at the same moment: every request on the machine then
shares the cores with them, cheap pages included, and memory grows by 100 MiB for each.
Here a hash beyond PASSWORD_HASHING_CONCURRENCY waits for its turn, asleep, so the
threads serving other pages keep the CPU they need, and memory stays bounded.

The algorithms and their stored format are Django's own: a hash made here verifies
with Django's hashers, and the other way round.
"""

import threading
from contextlib import contextmanager
from functools import cache

from django.conf import settings
from django.contrib.auth import hashers

_holding = threading.local()


@cache
def _turns(size: int) -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(size)


@contextmanager
def turn():
    """Wait for a free hashing slot in this process; re-entrant within a thread."""
    if getattr(_holding, "turn", False):
        yield
        return
    with _turns(settings.PASSWORD_HASHING_CONCURRENCY):
        _holding.turn = True
        try:
            yield
        finally:
            _holding.turn = False


class TakesTurns:
    def encode(self, password, salt, *args, **kwargs):
        with turn():
            return super().encode(password, salt, *args, **kwargs)

    def verify(self, password, encoded):
        with turn():
            return super().verify(password, encoded)


class Argon2PasswordHasher(TakesTurns, hashers.Argon2PasswordHasher):
    pass


class PBKDF2PasswordHasher(TakesTurns, hashers.PBKDF2PasswordHasher):
    pass


class PBKDF2SHA1PasswordHasher(TakesTurns, hashers.PBKDF2SHA1PasswordHasher):
    pass
