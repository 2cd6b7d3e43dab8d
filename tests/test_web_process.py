"""The Procfile's web process under a crowd: cheap pages are answered while passwords hash.

The process runs the e2e settings, whose password hashers are the shipped ones (taking
turns), not the test settings' fast one, so every login below costs a real hash. The
crowd logs in to members whose hashes predate Argon2id (PBKDF2, a third of a second of
CPU each, as on a site that started with Django's defaults): at Argon2id's 20 ms the
crowd would be over before the order of answers could show anything. Only that order
is asserted, never a duration.
"""

import http.client
import os
import signal
import subprocess
import sys
import threading
import urllib.parse
from contextlib import contextmanager

import pytest
from django.conf import settings

from .e2e.site import free_port
from .processes import Processes, TemporaryDatabase, wait_for

LOGINS = 24
CROWD_MAX = 32

# One PBKDF2 hash, stored for every member: hashing one per member would take seconds.
SEED_MEMBERS = f"""
from django.contrib.auth.hashers import make_password
from accounts.models import User
stored = make_password("their-old-password", hasher="pbkdf2_sha256")
User.objects.bulk_create(
    User(email=f"member{{n}}@example.com", password=stored) for n in range({CROWD_MAX})
)
"""


def get(port, path, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


def answers(port) -> bool:
    try:
        return get(port, "/healthz").status == 200
    except OSError:
        return False


@contextmanager
def web_process(tmp_path, **env):
    """The Procfile's web line with 2 processes; yields its port and process."""
    database = TemporaryDatabase(tmp_path, os.environ.get("DATABASE_URL"))
    port = free_port()
    processes = Processes(
        tmp_path,
        DATABASE_URL=database.url,
        PORT=str(port),
        WEB_CONCURRENCY="2",
        # Each login comes from its own address, as a crowd would, so a per-client
        # throttle lets them all through to the hasher.
        TRUSTED_PROXY_COUNT="1",
        **env,
    )
    try:
        processes.release()
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", SEED_MEMBERS],
            cwd=settings.BASE_DIR,
            env=processes.env,
            check=True,
            timeout=60,
        )
        process = processes.start("web")
        wait_for(lambda: answers(port), timeout=30, message="gunicorn to answer /healthz")
        yield port, process
    finally:
        processes.stop_all()
        database.drop()
    assert process.popen.returncode == 0, process.output


@pytest.fixture
def web(tmp_path):
    with web_process(tmp_path) as started:
        yield started


def crowd_of_logins(port, count):
    """`count` members' logins with wrong passwords, each from its own address, all sent
    at once.

    Returns the threads, once every request is sent, and the list their statuses go to.
    """
    login_page = get(port, "/accounts/login/")
    csrf = login_page.headers["Set-Cookie"].split(";", 1)[0].split("=", 1)[1]
    all_sent = threading.Barrier(count + 1)
    answered = []

    def log_in(n):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        body = urllib.parse.urlencode(
            {
                "csrfmiddlewaretoken": csrf,
                "username": f"member{n}@example.com",
                "password": "a-wrong-password",
            }
        )
        connection.request(
            "POST",
            "/accounts/login/",
            body,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={csrf}",
                "X-Forwarded-For": f"10.0.0.{n + 1}",
            },
        )
        all_sent.wait()
        answered.append(connection.getresponse().status)
        connection.close()

    crowd = [threading.Thread(target=log_in, args=(n,), daemon=True) for n in range(count)]
    for login in crowd:
        login.start()
    all_sent.wait()
    return crowd, answered


def test_healthz_is_answered_while_a_crowd_of_logins_hashes_passwords(web):
    port, _ = web
    crowd, answered = crowd_of_logins(port, LOGINS)

    healthz = get(port, "/healthz")
    answered_before_healthz = len(answered)
    for login in crowd:
        login.join(timeout=120)

    assert healthz.status == 200
    # Each refusal re-shows the form.
    assert answered == [200] * LOGINS
    # A sync worker answers nothing while it hashes, so /healthz would wait behind
    # nearly every login in the queue.
    assert answered_before_healthz < LOGINS // 2, (
        f"/healthz was answered after {answered_before_healthz} of {LOGINS} logins"
    )


def test_sigterm_lets_the_logins_in_progress_finish(web):
    port, process = web
    crowd, answered = crowd_of_logins(port, 6)
    # Hashes take turns, so once one login is answered the others are still in progress.
    wait_for(lambda: answered, timeout=60, message="the first login to be answered")

    process.signal(signal.SIGTERM)
    for login in crowd:
        login.join(timeout=60)

    assert answered == [200] * 6
    assert process.wait() == 0


def test_a_crowd_longer_than_the_line_to_hash_is_asked_to_try_again(tmp_path):
    # 8 threads per process, so a line of 6: a crowd of 32 can't take every thread.
    with web_process(tmp_path, WEB_THREADS="8") as (port, _):
        crowd, answered = crowd_of_logins(port, CROWD_MAX)
        healthz = get(port, "/healthz")
        hashed_before_healthz = answered.count(200)
        for login in crowd:
            login.join(timeout=120)

    assert healthz.status == 200
    assert set(answered) == {200, 503}
    # Without the line, 16 logins would wait in the threads and 16 more in the queue
    # ahead of /healthz; with it, those beyond the line are turned away at once.
    assert hashed_before_healthz < 8, f"/healthz came after {hashed_before_healthz} logins"


def test_the_logs_keep_no_confirmation_or_reset_token(web):
    port, process = web
    get(port, "/accounts/confirm/sekrit-confirm-token/")
    get(
        port,
        "/accounts/password-reset/MQ/sekrit-reset-token/",
        {"Referer": "http://127.0.0.1/accounts/confirm/sekrit-referer-token/"},
    )
    wait_for(lambda: "password-reset/MQ/" in process.output, timeout=10, message="the log")

    assert "/accounts/confirm/[redacted]/" in process.output
    assert "sekrit" not in process.output
