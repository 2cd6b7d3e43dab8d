"""Passwords are stored with Argon2id; hashes made before still work and are upgraded.

The test settings use a fast hasher, so these tests switch to the shipped list.
"""

import threading
import time
from contextlib import contextmanager

import argon2
import pytest
from django.contrib.auth import hashers
from django.contrib.auth.hashers import make_password
from django.urls import reverse

from accounts.hashers import TakesTurns, turn
from accounts.models import User
from config.settings import base

from .conftest import PASSWORD

# OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane (accounts/hashers.py).
OWASP_ARGON2ID = "argon2$argon2id$v=19$m=19456,t=2,p=1$"


@pytest.fixture
def shipped_hashers(settings):
    settings.PASSWORD_HASHERS = base.PASSWORD_HASHERS


@pytest.fixture
def pbkdf2_member(db, shipped_hashers):
    """A confirmed member whose password was stored before Argon2id was the default."""
    user = User.objects.create_user("old@example.com")
    user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])
    user.confirm_email()
    return user


def log_in(client, password):
    return client.post(
        reverse("accounts:login"), {"username": "old@example.com", "password": password}
    )


def test_login_upgrades_a_pbkdf2_hash_to_argon2id(client, pbkdf2_member):
    assert pbkdf2_member.password.startswith("pbkdf2_sha256$")

    response = log_in(client, PASSWORD)

    assert response.status_code == 302
    pbkdf2_member.refresh_from_db()
    assert pbkdf2_member.password.startswith(OWASP_ARGON2ID)
    assert pbkdf2_member.check_password(PASSWORD)


def test_a_wrong_password_leaves_the_old_hash_alone(client, pbkdf2_member):
    old_hash = pbkdf2_member.password

    response = log_in(client, "not-the-password")

    assert response.status_code == 200
    pbkdf2_member.refresh_from_db()
    assert pbkdf2_member.password == old_hash


def test_signup_stores_an_argon2id_hash_at_owasps_cost(db, shipped_hashers, signup):
    signup("new@example.com")

    assert User.objects.get(email="new@example.com").password.startswith(OWASP_ARGON2ID)


def djangos_argon2_hash(password):
    """What Django's own Argon2 hasher stores: 100 MiB, 2 passes, 8 lanes."""
    return hashers.Argon2PasswordHasher().encode(password, hashers.Argon2PasswordHasher().salt())


def libsodium_era_hash(password):
    """What this template stored before (libsodium): 100 MiB, 2 passes, 1 lane, and a salt
    of 16 random bytes."""
    return "argon2" + argon2.PasswordHasher(time_cost=2, memory_cost=102400, parallelism=1).hash(
        password
    )


@pytest.mark.parametrize(
    ("make_hash", "kind"),
    [(djangos_argon2_hash, ",p=8$"), (libsodium_era_hash, "m=102400,t=2,p=1$")],
)
def test_an_older_argon2_hash_logs_in_and_is_remade_once(
    client, db, shipped_hashers, make_hash, kind
):
    member = User.objects.create_user("old@example.com")
    member.password = make_hash(PASSWORD)
    member.save(update_fields=["password"])
    member.confirm_email()
    assert kind in member.password
    old_hash = member.password
    assert log_in(client, "not-the-password").status_code == 200
    member.refresh_from_db()
    assert member.password == old_hash

    assert log_in(client, PASSWORD).status_code == 302

    member.refresh_from_db()
    remade = member.password
    assert remade.startswith(OWASP_ARGON2ID)
    client.logout()
    assert log_in(client, PASSWORD).status_code == 302
    member.refresh_from_db()
    assert member.password == remade, "a hash made here was made again"


class RecordingHasher:
    """Stands in for a slow hash, and records how many ran at the same moment."""

    def __init__(self):
        self.running = self.most_at_once = 0
        self.lock = threading.Lock()

    def encode(self, password, salt):
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        time.sleep(0.02)
        with self.lock:
            self.running -= 1
        return f"{salt}${password}"

    def verify(self, password, encoded):
        # As PBKDF2's does: verifying encodes again, inside the same turn.
        return self.encode(password, "salt") == encoded


class TakingTurns(TakesTurns, RecordingHasher):
    pass


@pytest.mark.parametrize("concurrency", [1, base.PASSWORD_HASHING_CONCURRENCY])
def test_a_process_runs_no_more_hashes_at_once_than_its_turns(settings, concurrency):
    settings.PASSWORD_HASHING_CONCURRENCY = concurrency
    hasher = TakingTurns()
    logins = [
        threading.Thread(target=hasher.verify, args=(PASSWORD, f"salt${PASSWORD}"), daemon=True)
        for _ in range(8)
    ]
    for login in logins:
        login.start()
    deadline = time.monotonic() + 10
    for login in logins:
        login.join(timeout=max(0, deadline - time.monotonic()))

    assert not any(login.is_alive() for login in logins), "a nested turn deadlocked"
    assert hasher.most_at_once == concurrency


@contextmanager
def another_request_hashing():
    """Another thread holds this process's only turn to hash until the block ends."""
    holding, done = threading.Event(), threading.Event()

    def hash_until_done():
        with turn():
            holding.set()
            done.wait(10)

    other = threading.Thread(target=hash_until_done, daemon=True)
    other.start()
    holding.wait(10)
    try:
        yield
    finally:
        done.set()
        other.join()


def test_a_login_that_waits_too_long_for_its_turn_is_asked_to_try_again(
    client, pbkdf2_member, settings, monkeypatch
):
    settings.PASSWORD_HASHING_CONCURRENCY = 1
    monkeypatch.setattr("accounts.hashers.PASSWORD_HASHING_TIMEOUT", 0.05)
    with another_request_hashing():
        busy = log_in(client, PASSWORD)

    assert busy.status_code == 503
    assert busy["Retry-After"] == "5"
    assert "no-store" in busy["Cache-Control"]
    assert "Nothing was saved" in busy.text
    assert "_auth_user_id" not in client.session
    assert log_in(client, PASSWORD).status_code == 302


def test_a_busy_signup_saves_nothing(db, shipped_hashers, signup, settings, monkeypatch):
    settings.PASSWORD_HASHING_CONCURRENCY = 1
    monkeypatch.setattr("accounts.hashers.PASSWORD_HASHING_TIMEOUT", 0.05)
    with another_request_hashing():
        busy = signup("new@example.com")

    assert busy.status_code == 503
    assert not User.objects.filter(email="new@example.com").exists()
    assert signup("new@example.com").status_code == 302


def test_when_the_line_to_hash_is_full_a_login_is_turned_away_at_once(
    client, pbkdf2_member, settings, monkeypatch
):
    # Waiting would hold a web thread that pages need: with the line full (one place,
    # taken), the login doesn't wait out its time-out, however long that is.
    settings.PASSWORD_HASHING_LINE = 1
    monkeypatch.setattr("accounts.hashers.PASSWORD_HASHING_TIMEOUT", 60)
    with another_request_hashing():
        busy = log_in(client, PASSWORD)

    assert busy.status_code == 503
    assert log_in(client, PASSWORD).status_code == 302
