"""Wake on enqueue (PostgreSQL): an enqueue wakes an idle worker before its next poll, a
rolled-back one wakes nobody, and a dropped listening connection falls back to polling."""

import signal
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from worker.wakeup import Listener

from . import tasks
from .processes import Processes, database_url, needs_shared_database, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("database_backend"),
    needs_shared_database,
]


@pytest.fixture
def listener():
    listening = Listener(["default"])
    listening.wait(0)  # Connect and LISTEN now, before anything is enqueued.
    yield listening
    listening.close()


def listening_backends() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE query LIKE 'LISTEN%%' AND pid <> pg_backend_pid()"
        )
        return [pid for (pid,) in cursor.fetchall()]


def test_an_enqueue_wakes_a_listener_at_commit_and_a_rollback_wakes_nobody(listener, tmp_path):
    with transaction.atomic():
        tasks.record.enqueue(1, str(tmp_path / "log"))
        assert not listener.wait(0.2)  # Not before the commit.
    assert listener.wait(5)

    with pytest.raises(RuntimeError), transaction.atomic():
        tasks.record.enqueue(2, str(tmp_path / "log"))
        raise RuntimeError("the request failed")
    assert not listener.wait(0.5)


def test_a_task_due_later_wakes_nobody(listener, tmp_path):
    tasks.record.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(
        1, str(tmp_path / "log")
    )
    assert not listener.wait(0.5)


def test_a_dropped_listening_connection_costs_one_poll_then_listens_again(listener, tmp_path):
    [backend] = listening_backends()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [backend])

    started = time.monotonic()
    assert not listener.wait(0.5)  # The connection is gone: the wait is a poll.
    assert time.monotonic() - started >= 0.5
    tasks.record.enqueue(1, str(tmp_path / "log"))  # Missed: a poll would find it.

    listener.wait(0)  # Listens again.
    tasks.record.enqueue(2, str(tmp_path / "log"))
    assert listener.wait(5)


def test_an_idle_worker_starts_an_enqueued_task_before_its_next_poll(tmp_path):
    log = tmp_path / "log"
    processes = Processes(tmp_path, DATABASE_URL=database_url(), WORKER_POLL_SECONDS="120")
    try:
        worker = processes.general()
        # Idle: listening, after its first poll found nothing.
        wait_for(lambda: listening_backends(), message="the worker to listen")
        tasks.record.enqueue(1, str(log))
        # The next poll is two minutes away; the notification is what starts the task.
        wait_for(lambda: log.exists() and log.read_text() == "1\n", timeout=30)
        # Nor does a stop wait for the poll.
        worker.signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    finally:
        processes.stop_all()
