"""The worker as it runs in production: real processes, killed and stopped for real.

These need a database that other processes can reach, so they run in the PostgreSQL
pass of .ci/run (DATABASE_URL=postgres://... make test).
"""

import os
import shutil
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.db.models.functions import Now
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.tasks import send_confirmation_email
from notifications.models import Delivery, Endpoint, Event
from notifications.tasks import deliver_webhook, sweep_deliveries
from peers.receiver import Answer, SilentReceiver
from peers.smtp import SMTPServer
from worker import engines
from worker.locks import LOCK_KEY
from worker.models import Heartbeat, Recovery
from worker.tasks import recover_dead_tasks

from . import tasks
from .conftest import run_tasks
from .processes import Processes, database_url, needs_shared_database, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("database_backend"),
    needs_shared_database,
]


@pytest.fixture
def processes(tmp_path):
    (tmp_path / "mail").mkdir()
    running = Processes(tmp_path, DATABASE_URL=database_url())
    yield running
    running.stop_all()


def status_of(result) -> str:
    return DBTaskResult.objects.get(pk=result.id).status


def presume_dead(settings):
    """Let the heartbeats of killed workers count as stale at once."""
    settings.WORKER_DEAD_AFTER_SECONDS = 0
    Heartbeat.objects.update(seen_at=Now() - timedelta(seconds=1))


def test_sigterm_lets_every_task_in_flight_finish_then_exits_0(processes, tmp_path, settings):
    threads = settings.WORKER_PROCESSES["general"]["threads"]
    markers = [tmp_path / f"marker-{n}" for n in range(threads)]
    results = [tasks.sleep_then_record.enqueue(2, str(marker)) for marker in markers]
    worker = processes.general()

    wait_for(lambda: all(marker.exists() for marker in markers), message="the tasks to start")
    worker.signal(signal.SIGTERM)

    assert worker.wait() == 0
    assert [marker.read_text() for marker in markers] == ["finished"] * threads
    assert {status_of(result) for result in results} == {TaskResultStatus.SUCCESSFUL}
    assert f"shutting down gracefully, after {threads} task(s) in flight" in worker.output
    assert not Heartbeat.objects.exists()  # A clean exit leaves nothing to recover.


def test_a_busy_worker_keeps_its_heartbeat_with_persistent_connections(
    processes, tmp_path, settings
):
    # The processes keep their database connections for 600 s, as production's
    # CONN_MAX_AGE does; the heartbeat must keep beating however long they live.
    dead_after = float(processes.env.get("WORKER_DEAD_AFTER_SECONDS", "3"))
    settings.WORKER_DEAD_AFTER_SECONDS = dead_after
    marker = tmp_path / "marker"
    result = tasks.sleep_then_record.enqueue(3 * dead_after, str(marker))
    processes.general()
    wait_for(lambda: marker.exists(), message="the task to start")

    time.sleep(2 * dead_after)  # Well past the age at which a silent worker counts as dead.
    health = processes.manage("worker_health", "general")
    assert health.returncode == 0, health.stdout
    assert recover_dead_tasks.call() == "recovered 0"

    wait_for(lambda: status_of(result) == TaskResultStatus.SUCCESSFUL, message="the task to end")
    assert marker.read_text() == "finished"


def test_killed_worker_loses_none_of_its_confirmation_emails(processes, make_user, settings):
    threads = settings.WORKER_PROCESSES["general"]["threads"]
    users = [make_user(f"{n}@example.com") for n in range(threads)]
    with SMTPServer(delay=30) as slow_mail:
        worker = processes.general(E2E_SMTP_PORT=str(slow_mail.port))
        results = [send_confirmation_email.enqueue(user.pk) for user in users]
        wait_for(lambda: slow_mail.sessions == threads, message="the worker to send them all")
        # The operator's view of it (the Background work overview).
        [seen] = engines.current().workers(10)
        assert seen.alive and (seen.threads, seen.in_flight) == (threads, threads)
        worker.signal(signal.SIGKILL)
        worker.wait()

    # What a dead worker leaves behind.
    assert {status_of(result) for result in results} == {TaskResultStatus.RUNNING}
    assert recover_dead_tasks.call() == "recovered 0"  # Its heartbeat is still fresh.

    presume_dead(settings)
    assert recover_dead_tasks.call() == f"recovered {threads}"
    [dead] = engines.current().workers(10)
    assert not dead.alive and dead.in_flight == 0
    recovered = Recovery.objects.filter(worker=dead.name, rerun=True)
    assert sorted(recovered.values_list("result_id", flat=True)) == sorted(r.id for r in results)

    for result in results:
        original = DBTaskResult.objects.get(pk=result.id)
        assert original.status == TaskResultStatus.FAILED
        assert original.exception_class_path == "worker.recovery.WorkerDied"
    with SMTPServer() as mail:
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": mail.port, "timeout": 5},
            }
        }
        run_tasks()
    assert sorted(message["To"] for message in mail.messages) == [user.email for user in users]


def test_killed_worker_loses_no_webhook_delivery(processes, member, receiver, settings):
    endpoint = Endpoint.objects.create(owner=member, url=receiver.url, events=[])
    receiver.answer(Answer(delay=30))
    delivery = Delivery.objects.create(
        endpoint=endpoint, event=Event.TEST, payload={}, next_attempt_at=timezone.now()
    )
    deliver_webhook.enqueue(delivery.pk)
    worker = processes.webhooks()
    wait_for(lambda: receiver.received, message="the delivery to reach the receiver")
    worker.signal(signal.SIGKILL)
    worker.wait()

    presume_dead(settings)
    assert recover_dead_tasks.call() == "recovered 1"
    # Once the attempt is past its deadline, it can only be in flight because its worker
    # died: it counts as failed, and the delivery's own schedule takes over.
    assert sweep_deliveries.call() == "rescheduled 0, requeued 0"
    Delivery.objects.filter(pk=delivery.pk).update(
        last_attempt_at=timezone.now() - timedelta(minutes=10)
    )
    assert sweep_deliveries.call() == "rescheduled 1, requeued 0"
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.attempts == 1
    assert "worker stopped" in delivery.last_error

    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    run_tasks()

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert {request.headers["webhook-id"] for request in receiver.received} == {delivery.webhook_id}


def test_restarted_worker_recovers_its_own_tasks_at_once(processes, make_user, tmp_path):
    user = make_user("ann@example.com")
    with SMTPServer(delay=30) as slow_mail:
        worker = processes.general(
            "--worker-id", "web-1:worker.1", E2E_SMTP_PORT=str(slow_mail.port)
        )
        result = send_confirmation_email.enqueue(user.pk)
        wait_for(lambda: slow_mail.sessions, message="the worker to start sending")
        worker.signal(signal.SIGKILL)
        worker.wait()

    with SMTPServer() as mail:
        restarted = processes.general(
            "--worker-id", "web-1:worker.1", "--batch", E2E_SMTP_PORT=str(mail.port)
        )
        assert restarted.wait() == 0
    assert status_of(result) == TaskResultStatus.FAILED
    assert [message["To"] for message in mail.messages] == ["ann@example.com"]


def test_a_worker_leaves_a_live_worker_with_the_same_id_alone(processes, tmp_path):
    marker = tmp_path / "marker"
    # Long enough that the second worker, however slowly it starts, finds it running.
    result = tasks.sleep_then_record.enqueue(8, str(marker))
    # Containers on the host network all get the id host:1.
    first = processes.general("--worker-id", "host:1")
    wait_for(lambda: marker.exists(), message="the task to start")

    second = processes.general("--worker-id", "host:1", "--batch")
    assert second.wait() == 0
    assert status_of(result) == TaskResultStatus.RUNNING

    wait_for(lambda: status_of(result) == TaskResultStatus.SUCCESSFUL, message="the task to end")
    assert marker.read_text() == "finished"
    first.stop()


def test_four_workers_run_each_of_2000_tasks_exactly_once(processes, tmp_path):
    log = tmp_path / "runs.log"
    results = [tasks.record.enqueue(n, str(log)) for n in range(2000)]
    workers = [processes.general("--batch") for _ in range(4)]

    assert [worker.wait(timeout=120) for worker in workers] == [0, 0, 0, 0]

    assert sorted(map(int, log.read_text().split())) == list(range(2000))
    finished = DBTaskResult.objects.filter(pk__in=[result.id for result in results])
    assert finished.filter(status="SUCCESSFUL").count() == 2000
    # SKIP LOCKED let them work side by side: every worker took a share.
    assert len({ids[-1] for ids in finished.values_list("worker_ids", flat=True)}) == 4


def test_only_one_scheduler_acts_at_a_time(processes):
    first = processes.start("scheduler")
    wait_for(lambda: "Scheduler lock acquired" in first.output, message="the first scheduler")
    second = processes.start("scheduler")
    wait_for(lambda: "waiting to take over" in second.output, message="the second to wait")
    assert "Scheduler lock acquired" not in second.output

    first.signal(signal.SIGTERM)
    first.wait()

    wait_for(
        lambda: "Scheduler lock acquired" in second.output,
        timeout=15,
        message="the second scheduler to take over",
    )


def test_a_scheduler_that_loses_its_lock_exits_1(processes):
    scheduler = processes.start("scheduler")
    wait_for(lambda: "Scheduler lock acquired" in scheduler.output, message="the lock")

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks"
            " WHERE locktype = 'advisory' AND granted AND classid = 0 AND objid = %s",
            [LOCK_KEY],
        )
        assert cursor.fetchone() == (True,)

    # crontask checks the lock every few seconds.
    assert scheduler.wait(timeout=20) == 1
    assert "The scheduler lost its lock" in scheduler.output


def restart_postgres():
    """Restart the local PostgreSQL cluster, or skip the test if that isn't possible here."""
    clusters = Path("/etc/postgresql")
    if os.geteuid() != 0 or not shutil.which("pg_ctlcluster") or not clusters.is_dir():
        pytest.skip("restarting PostgreSQL needs root and a local pg_ctlcluster cluster")
    host = connection.settings_dict["HOST"] or "localhost"
    if host not in ("localhost", "127.0.0.1", "::1"):
        pytest.skip(f"PostgreSQL at {host} is not on this machine")
    [version] = [path.name for path in clusters.iterdir()]
    connection.close()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        timeout=60,
    )


def test_worker_carries_on_when_postgres_restarts(processes, tmp_path):
    log = tmp_path / "runs.log"
    worker = processes.general()
    first = [tasks.record.enqueue(n, str(log)) for n in range(20)]
    wait_for(lambda: len(log.read_text().split()) == 20 if log.exists() else 0)

    restart_postgres()
    time.sleep(1)  # The worker polls into the gap while the server comes back.
    second = [tasks.record.enqueue(n, str(log)) for n in range(20, 40)]

    wait_for(
        lambda: len(log.read_text().split()) >= 40,
        timeout=30,
        message="the worker to run tasks enqueued after the restart",
    )
    assert worker.popen.poll() is None, worker.output
    assert sorted(map(int, log.read_text().split())) == list(range(40))
    assert {status_of(result) for result in first + second} == {TaskResultStatus.SUCCESSFUL}


def test_confirmation_email_is_not_stuck_behind_hanging_webhooks(
    processes, make_user, signup, settings
):
    owner = make_user("owner@example.com", confirmed=True)
    threads = settings.WORKER_PROCESSES["webhooks"]["threads"]
    with SilentReceiver() as silent, SMTPServer() as mail:
        endpoint = Endpoint.objects.create(owner=owner, url=silent.url, events=[])
        for _ in range(2 * threads):
            delivery = Delivery.objects.create(
                endpoint=endpoint, event=Event.TEST, payload={}, next_attempt_at=timezone.now()
            )
            deliver_webhook.enqueue(delivery.pk)
        smtp = {"E2E_SMTP_PORT": str(mail.port)}
        workers = [processes.general(**smtp), processes.webhooks(**smtp)]
        wait_for(
            lambda: len(silent.connections) == threads,
            message="every webhooks thread to hang on the receiver",
        )

        assert signup("ann@example.com").status_code == 302
        wait_for(lambda: mail.messages, timeout=2, message="the confirmation email")

        assert mail.messages[0]["To"] == "ann@example.com"
        assert all(worker.popen.poll() is None for worker in workers)
