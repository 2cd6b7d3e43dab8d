"""Password hashers that take turns: a web process runs at most a few hashes at once.

A password hash is slow on purpose. Argon2id at Django's cost holds about 0.1 s of CPU
(computed by libsodium, below) and 100 MiB of memory, PBKDF2 about three times the CPU.
With threaded web workers nothing stops forty logins from hashing at the same moment:
every request on the machine then shares the cores with them, cheap pages included, and
memory grows by 100 MiB for each.
Here a hash beyond PASSWORD_HASHING_CONCURRENCY waits for its turn, asleep, so the
threads serving other pages keep the CPU they need, and memory stays bounded.

A request waiting for its turn still holds a web thread, and gunicorn hands requests to
threads in arrival order: if every thread waited, pages would queue behind the crowd.
So the line is short and the wait is bounded. At most PASSWORD_HASHING_LINE requests
per process hash or wait (fewer than its threads), and none waits longer than
PASSWORD_HASHING_TIMEOUT seconds. Past either, HashingBusy: the visitor is asked to try
again in a moment (HashingBusyMiddleware, below), and the thread goes back to serving pages.

The algorithms and their stored format are Django's own: a hash made here verifies
with Django's hashers, and the other way round. Only Argon2id is computed differently
(see Argon2PasswordHasher).
"""

import base64
import binascii
import logging
import secrets
import threading
from contextlib import contextmanager
from functools import cache

from django.conf import settings
from django.contrib.auth import hashers
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.utils.encoding import force_bytes
from nacl import bindings, exceptions, pwhash

logger = logging.getLogger(__name__)

_holding = threading.local()


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
        if not turns.acquire(timeout=settings.PASSWORD_HASHING_TIMEOUT):
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


class SodiumArgon2PasswordHasher(hashers.Argon2PasswordHasher):
    """Django's Argon2id, at Django's memory and time cost, computed by libsodium.

    What a guess costs an attacker is set by the memory and passes (100 MiB, 2), not by
    how fast our code fills them: attackers bring fast code of their own. Ours should be
    fast too, because every hash we compute holds one of our cores. libsodium (PyNaCl)
    fills Argon2's memory with the CPU's vector instructions (AVX2, AVX-512); argon2-cffi,
    which Django's hasher uses, does not. bench/hash_cost.py measures half the CPU per hash.

    One lane (p=1), as OWASP recommends: libsodium computes only one. Lanes split a single
    hash over several cores, which a crowd keeps busy anyway; the memory and passes, so a
    guess's cost, are unchanged. The stored string is Argon2's standard one: Django's own
    hasher verifies it. Anything libsodium can't compute or check the same way (Django's
    letters-and-digits salts, other lanes, Argon2i and older versions) is left to Django's
    hasher, so every hash Django could check still checks; hashes that aren't this one's
    are made again at the member's next login.

    This class doesn't take turns: list Argon2PasswordHasher (below), which does.
    """

    parallelism = 1
    SALT_BYTES = bindings.crypto_pwhash_SALTBYTES  # 16: libsodium takes exactly this many
    # Stored hashes libsodium checks exactly as argon2-cffi would (it reads no longer ones).
    SODIUM_PREFIX = "$argon2id$v=19$"
    SODIUM_MAX_LENGTH = bindings.crypto_pwhash_STRBYTES - 1

    def salt(self):
        # Random bytes, not Django's letters and digits: written the way Argon2's stored
        # string writes a salt (base64, no padding), 128 bits in 22 characters.
        return _unpadded_base64(secrets.token_bytes(self.SALT_BYTES))

    def encode(self, password, salt):
        params = self.params()
        raw_salt = self.sodium_salt(salt)
        if raw_salt is None or params.parallelism != 1:
            return super().encode(password, salt)
        digest = bindings.crypto_pwhash_alg(
            params.hash_len,
            force_bytes(password),
            raw_salt,
            params.time_cost,
            params.memory_cost * 1024,  # libsodium counts bytes, Argon2 KiB
            bindings.crypto_pwhash_ALG_ARGON2ID13,
        )
        return "$".join(
            [
                self.algorithm,
                "argon2id",
                f"v={params.version}",
                f"m={params.memory_cost},t={params.time_cost},p={params.parallelism}",
                salt,
                _unpadded_base64(digest),
            ]
        )

    def sodium_salt(self, salt: str) -> bytes | None:
        """The bytes of a salt made by salt() above; None for any other salt."""
        try:
            raw = base64.b64decode(salt + "==", validate=True)
        except binascii.Error:
            return None
        if len(raw) != self.SALT_BYTES or _unpadded_base64(raw) != salt:
            return None
        return raw

    def verify(self, password, encoded):
        algorithm, rest = encoded.split("$", 1)
        if algorithm != self.algorithm:
            return False
        rest = "$" + rest
        if not rest.startswith(self.SODIUM_PREFIX) or len(rest) > self.SODIUM_MAX_LENGTH:
            return super().verify(password, encoded)
        try:
            return pwhash.verify(rest.encode(), force_bytes(password))
        except exceptions.InvalidkeyError:
            return False

    def must_update(self, encoded):
        # Django's check counts a salt's entropy as if it were Django's letters and
        # digits, which would re-make every hash here at each login; count bytes instead.
        current = self.decode(encoded)["params"]
        wanted = self.params()
        wanted.salt_len = current.salt_len
        return current != wanted or current.salt_len < self.SALT_BYTES


def _unpadded_base64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


class Argon2PasswordHasher(TakesTurns, SodiumArgon2PasswordHasher):
    pass


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
