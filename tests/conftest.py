from pathlib import Path

import pytest
from django.core.cache import cache
from django.urls import reverse

from accounts.models import User
from config.settings.base import task_queues, tasks_backend
from worker.engines.database import ThreadedWorker

from .factories import PASSWORD

BROWSER_TESTS = Path(__file__).parent / "e2e"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Browser tests last, whatever order pytest's fixture grouping chose.

    Playwright's sync API keeps an event loop running in the main thread from the first
    browser test to the end of the session, and Django refuses database queries while
    one runs (SynchronousOnlyOperation): a test after them would fail for no fault of
    its own.
    """
    items.sort(key=lambda item: item.path.is_relative_to(BROWSER_TESTS))


@pytest.fixture(autouse=True)
def fresh_paused_queues():
    """Each test asks which queues are paused, not what an earlier test's process knew."""
    from worker import pausing

    pausing.forget()


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each test starts with an empty cache (rate-limit counters are rows, not cache)."""
    cache.clear()


@pytest.fixture
def make_user(db):
    def make(email="ann@example.com", *, confirmed=False, password=PASSWORD):
        user = User.objects.create_user(email, password)
        if confirmed:
            user.confirm_email()
        return user

    return make


@pytest.fixture
def signup(client):
    """Post the signup form the way a browser does, running on-commit callbacks for real."""

    def post(email="ann@example.com", password=PASSWORD, confirmation=None):
        return client.post(
            reverse("accounts:signup"),
            {"email": email, "password1": password, "password2": confirmation or password},
        )

    return post


@pytest.fixture
def database_backend(settings):
    """Store tasks as rows, as dev and production do, for run_tasks() to run."""
    settings.TASKS = tasks_backend("django_tasks_db.DatabaseBackend")


def run_tasks():
    """Run every ready task on the site's queues, one at a time in this thread, then
    return: runworker's claim and run (worker/engines/database.py), without its threads."""
    worker = ThreadedWorker(queues=task_queues, threads=1, process_id="tests:1/0000", batch=True)
    while claimed := worker.claim(1):
        worker.run_claimed(claimed[0])


def change_rate_limit(settings, name: str, **changes):
    """Change parts of one of the RATE_LIMITS for this test (the settings fixture puts it back)."""
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, name: {**settings.RATE_LIMITS[name], **changes}}


@pytest.fixture
def receiver(settings):
    """A webhook receiver on 127.0.0.1, which the SSRF guard must be told to allow."""
    from peers.receiver import Receiver

    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    with Receiver() as running:
        yield running


@pytest.fixture
def member(make_user, client):
    """A confirmed member, logged in with the test client."""
    user = make_user("member@example.com", confirmed=True)
    client.force_login(user)
    return user


@pytest.fixture
def rq_backend(settings):
    """Tasks go to RQ on a Redis database of the test's own, emptied before and after."""
    from .engines import redis_or_skip, use_rq

    connection = redis_or_skip()
    connection.flushdb()
    use_rq(settings)
    yield connection
    connection.flushdb()


@pytest.fixture
def hasher_calls(settings):
    """The password of every hash computed during the test, in order."""
    from .hashers import CountingHasher

    # Changing the setting resets Django's cached list of hashers.
    settings.PASSWORD_HASHERS = ["tests.hashers.CountingHasher"]
    CountingHasher.calls = []
    return CountingHasher.calls


@pytest.fixture
def engine_down(monkeypatch):
    """Every .enqueue() fails, as when Redis is unreachable."""
    import redis
    from django.tasks import Task

    def unreachable(task, *args, **kwargs):
        raise redis.exceptions.ConnectionError("the task engine is down")

    monkeypatch.setattr(Task, "enqueue", unreachable)
