"""Recovery of tasks whose worker died: on the database's clock, and never a live worker's."""

from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.db.models.functions import Now
from django.tasks import TaskResultStatus
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.tasks import send_confirmation_email
from worker import recovery
from worker.heartbeat import LIVENESS_LOCK_CLASS, HeartbeatThread, new_process_id
from worker.models import Heartbeat
from worker.policies import policy_for
from worker.tasks import recover_dead_tasks

from . import tasks
from .processes import database_url

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("database_backend"),
]


def running_task(task_result, process_id):
    row = DBTaskResult.objects.get(pk=task_result.id)
    row.claim(process_id)
    return row


def alive(process_id, worker_id="host:1"):
    HeartbeatThread(worker_id, process_id, ["default"], threads=2).beat()


def status(row) -> str:
    return DBTaskResult.objects.get(pk=row.pk).status


@pytest.fixture
def skewed_clock(monkeypatch):
    """Set this host's clock off from the database's by `offset`."""

    def skew(offset: timedelta):
        real_now = timezone.now
        monkeypatch.setattr(timezone, "now", lambda: real_now() + offset)

    return skew


def test_dead_workers_tasks_are_failed_and_safe_ones_rerun(make_user, tmp_path):
    user = make_user()
    email = running_task(send_confirmation_email.enqueue(user.pk), "gone:1/0bad")
    other = running_task(tasks.record.enqueue(1, str(tmp_path / "log")), "gone:1/0bad")
    busy = running_task(tasks.record.enqueue(2, str(tmp_path / "log")), "alive:1/0001")
    alive("alive:1/0001", worker_id="alive:1")

    assert recover_dead_tasks.call() == "recovered 2"

    assert status(email) == status(other) == TaskResultStatus.FAILED
    assert status(busy) == TaskResultStatus.RUNNING  # Its worker is alive, just busy.
    # Only the email task declares itself safe to run again.
    [rerun] = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
    assert rerun.task_path == "accounts.tasks.send_confirmation_email"
    assert rerun.args_kwargs["args"] == [user.pk]


def test_a_stale_heartbeat_on_the_database_clock_means_dead(settings, tmp_path):
    row = running_task(tasks.record.enqueue(1, str(tmp_path / "log")), "host:1/0001")
    alive("host:1/0001")
    dead_after = timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS)
    Heartbeat.objects.update(seen_at=Now() - dead_after + timedelta(seconds=5))
    assert recover_dead_tasks.call() == "recovered 0"

    Heartbeat.objects.update(seen_at=Now() - dead_after - timedelta(seconds=1))
    assert recover_dead_tasks.call() == "recovered 1"
    assert status(row) == TaskResultStatus.FAILED


def test_recovering_host_with_a_fast_clock_leaves_a_live_worker_alone(skewed_clock, tmp_path):
    row = running_task(tasks.record.enqueue(1, str(tmp_path / "log")), "host:1/0001")
    alive("host:1/0001")

    skewed_clock(timedelta(minutes=10))  # The scheduler's host runs ten minutes ahead.
    assert recover_dead_tasks.call() == "recovered 0"
    assert status(row) == TaskResultStatus.RUNNING


def test_worker_with_a_slow_clock_still_counts_as_alive(skewed_clock, tmp_path):
    row = running_task(tasks.record.enqueue(1, str(tmp_path / "log")), "host:1/0001")
    skewed_clock(timedelta(minutes=-10))  # The worker's host runs ten minutes behind.
    alive("host:1/0001")
    skewed_clock(timedelta(minutes=10))  # Back to (about) the truth.

    assert recover_dead_tasks.call() == "recovered 0"
    assert status(row) == TaskResultStatus.RUNNING


def hold_liveness_lock(process_id):
    """Hold a process's liveness lock from another session, as its heartbeat thread does."""
    session = psycopg.connect(database_url(), autocommit=True)
    session.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", [LIVENESS_LOCK_CLASS, process_id])
    return session


def test_a_worker_never_recovers_a_live_process_with_the_same_worker_id(tmp_path):
    other = new_process_id("host:1")  # Another container on the host network: also host:1.
    row = running_task(tasks.record.enqueue(1, str(tmp_path / "log")), other)
    lock = hold_liveness_lock(other) if connection.vendor == "postgresql" else None
    Heartbeat.objects.create(
        process_id=other, worker_id="host:1", queues="default", hostname="host", pid=1,
        started_at=Now(), seen_at=Now(),
    )  # fmt: skip
    try:
        assert recovery.predecessors_task_ids("host:1", new_process_id("host:1")) == []
    finally:
        if lock:
            lock.close()
    assert status(row) == TaskResultStatus.RUNNING


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the liveness lock is a PostgreSQL advisory lock"
)
def test_a_restarted_worker_recovers_its_dead_predecessor_at_once(tmp_path):
    predecessor = new_process_id("host:1")
    row = running_task(tasks.record.enqueue(1, str(tmp_path / "log")), predecessor)
    alive(predecessor)  # Its heartbeat is fresh, but its session, and so its lock, are gone.
    connection.close()  # The lock alive() took on this test's own session goes with it.

    assert recovery.predecessors_task_ids("host:1", new_process_id("host:1")) == [row.pk]
    assert recovery.predecessors_task_ids("host:2", new_process_id("host:2")) == []


def test_a_visitor_sees_their_recovered_email_retrying_not_failed(client, signup):
    signup("ann@example.com")
    [first] = DBTaskResult.objects.all()
    first.claim("gone:1/0bad")  # A worker took it, then died.

    recover_dead_tasks.call()

    fragment = client.get(reverse("accounts:email_status")).text
    assert "<strong>Retrying</strong>" in fragment
    assert "The worker stopped while running it." in fragment
    assert "gone:1" not in fragment  # Host names are nobody's business.


def test_a_task_that_kills_its_worker_every_time_is_not_run_for_ever(make_user):
    user = make_user()
    send_confirmation_email.enqueue(user.pk)

    for _ in range(10):  # Each run dies: claim the ready one, then recover.
        ready = DBTaskResult.objects.filter(status=TaskResultStatus.READY).first()
        if ready is None:
            break
        ready.claim("gone:1/0bad")
        recover_dead_tasks.call()

    runs = DBTaskResult.objects.filter(task_path=send_confirmation_email.module_path)
    assert runs.count() == max(policy_for(send_confirmation_email).max_attempts, 3)
    assert not runs.filter(status=TaskResultStatus.READY).exists()
