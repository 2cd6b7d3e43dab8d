import math
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.urls import reverse
from django.utils import timezone

from accounts.tasks import send_confirmation_email
from config.settings.base import task_queues, tasks_backend
from worker import engines, views

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_engine_check(monkeypatch):
    """Each test asks the engine itself, not the answer an earlier test left behind."""
    monkeypatch.setattr(views, "_last_engine_check", (-math.inf, []))
    monkeypatch.setattr(views, "_check_started", -math.inf)


def test_healthz_answers_200_when_the_database_answers(client):
    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_answers_503_when_the_database_does_not(client, monkeypatch):
    def unreachable():
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", unreachable)

    response = client.get(reverse("healthz"))

    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


@pytest.mark.django_db(transaction=True)
def test_health_reports_the_rq_engine(rq_backend, client, settings, make_user):
    user = make_user()
    settings.WORKER_MAX_QUEUE_WAIT_SECONDS = 0
    assert engines.current().problems() == []

    send_confirmation_email.enqueue(user.pk)  # No worker runs it.

    [problem] = engines.current().problems()
    assert "oldest task in the email queue has waited" in problem
    response = client.get(reverse("healthz"))
    assert response.status_code == 200  # Pages still work while the queue is late.
    # What is wrong goes to the log; a stranger learns only that something is.
    assert response.json() == {"status": "degraded"}


def test_health_says_when_redis_is_unreachable(rq_backend, settings):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.RQ_QUEUES = {q: {"URL": f"redis://127.0.0.1:{port}/0"} for q in task_queues}

    [problem] = engines.current().problems()

    assert problem.startswith("Redis is unreachable")
    assert "REDIS_URL" in problem


def test_healthz_asks_the_engine_at_most_every_few_seconds(client, monkeypatch):
    asked = []
    engine = engines.current()
    monkeypatch.setattr(engine, "problems", lambda queues=None: asked.append(1) or [])

    for _ in range(20):  # A load balancer, or someone hammering a public URL.
        assert client.get(reverse("healthz")).status_code == 200

    assert len(asked) == 1


def test_while_the_engine_is_slow_to_answer_only_one_request_waits_for_it(monkeypatch):
    asked = []

    def slow_problems(queues=None):
        asked.append(1)
        time.sleep(0.5)  # A Redis or database in trouble.
        return []

    monkeypatch.setattr(engines.current(), "problems", slow_problems)

    with ThreadPoolExecutor(10) as requests:
        list(requests.map(lambda _: views.engine_problems(), range(10)))

    assert len(asked) == 1


def test_an_engine_that_never_answers_is_reported_not_hidden_behind_the_last_answer(
    monkeypatch,
):
    monkeypatch.setattr(views, "ENGINE_CHECK_SECONDS", 0.2)
    released = threading.Event()

    def hanging_problems(queues=None):
        released.wait(10)  # A Redis that stopped answering, the connection still open.
        return []

    monkeypatch.setattr(engines.current(), "problems", hanging_problems)
    asking = threading.Thread(target=views.engine_problems)
    asking.start()
    try:
        time.sleep(0.3)
        problems = views.engine_problems()
    finally:
        released.set()
        asking.join()

    assert problems and "has not answered" in problems[0]


def test_a_check_just_starting_is_not_mistaken_for_one_that_hangs(monkeypatch):
    # Another thread has taken the check this instant and not yet noted when it started:
    # the last answer, not a made-up "has not answered", is what this probe gets.
    long_ago = time.monotonic() - 60
    monkeypatch.setattr(views, "ENGINE_CHECK_SECONDS", 10)
    monkeypatch.setattr(views, "_last_engine_check", (long_ago + 30, []))
    monkeypatch.setattr(views, "_check_started", long_ago)
    with views._checking:
        assert views.engine_problems() == []


def test_a_paused_queue_is_named_and_its_waiting_tasks_are_not_late(
    client, settings, make_user, monkeypatch
):
    from django_tasks_db.models import DBTaskResult

    from worker import pausing

    settings.TASKS = tasks_backend("django_tasks_db.DatabaseBackend")
    send_confirmation_email.enqueue(make_user().pk)
    DBTaskResult.objects.update(enqueued_at=timezone.now() - timedelta(hours=1))
    assert client.get(reverse("healthz")).json() == {"status": "degraded"}  # Late.

    pausing.pause("email")
    monkeypatch.setattr(views, "_last_engine_check", (-math.inf, []))

    assert client.get(reverse("healthz")).json() == {"status": "ok", "paused_queues": ["email"]}
