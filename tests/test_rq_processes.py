"""The RQ engine as it runs in production: `runworker` processes on Redis, killed for real.

Like tests/test_worker_processes.py these need a database other processes can reach, so
they run in the PostgreSQL pass of .ci/run, and a Redis server (tests/engines.py).
"""

import contextlib
import os
import signal
import time
from pathlib import Path

import django_rq
import pytest
from rq import Worker as RQWorker

from accounts.tasks import send_confirmation_email
from peers.smtp import SMTPServer
from worker.engines import rq as rq_engine
from worker.models import Recovery
from worker.processes import process_type_of

from .engines import REDIS_URL
from .processes import Processes, database_url, needs_shared_database, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("rq_backend"),
    needs_shared_database,
]


@pytest.fixture
def processes(tmp_path):
    (tmp_path / "mail").mkdir()
    running = Processes(
        tmp_path, DATABASE_URL=database_url(), TASKS_ENGINE="rq", REDIS_URL=REDIS_URL
    )
    yield running
    running.stop_all()


def pool_size(settings) -> int:
    """How many RQ worker processes `runworker general` starts."""
    return min(
        settings.WORKER_PROCESSES["general"]["threads"], settings.RQ_MAX_PROCESSES_PER_WORKER
    )


def children(pid: int) -> list[int]:
    """The process's children, oldest first."""
    found = map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    # Field 22 of /proc/<pid>/stat is the start time; the command name before it may
    # hold spaces, so count from the closing parenthesis.
    return sorted(found, key=lambda child: int(stat_fields(child)[19]))


def descendants(pid: int) -> list[int]:
    """Every process under `pid`: with `threads` > 1 runworker runs RQ's WorkerPool, whose
    worker processes each have a scheduler and a work horse of their own."""
    return [process for child in children(pid) for process in [child, *descendants(child)]]


def work_horse(job_id: str) -> int:
    """The process running the job: the newest child of the RQ worker that took it (the
    worker's scheduler, if it runs one, starts with the worker)."""
    connection = django_rq.get_connection(send_confirmation_email.queue_name)
    [worker] = [
        worker
        for worker in RQWorker.all(connection=connection)
        if worker.get_current_job_id() == job_id
    ]
    return children(worker.pid)[-1]


def stat_fields(pid) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def kill(pid, signum=signal.SIGKILL):
    with contextlib.suppress(ProcessLookupError):  # Already gone.
        os.kill(pid, signum)


def alive(pid) -> bool:
    """Running, as opposed to gone or a zombie nobody has reaped."""
    try:
        return stat_fields(pid)[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def blocked_clients(connection) -> int:
    """Connections to the test database waiting in a blocking call (BLPOP, BLMOVE)."""
    database = connection.connection_pool.connection_kwargs["db"]
    return sum(
        1
        for client in connection.client_list()
        if "b" in client["flags"] and int(client["db"]) == database
    )


def freeze_while_waiting(worker, connection) -> list[int]:
    """Stop (SIGSTOP) the worker and everything it forked at a moment when each of its RQ
    workers is blocked waiting for a job; return the frozen processes."""
    registered = len(RQWorker.all(connection=connection))
    while True:
        frozen = [worker.popen.pid, *descendants(worker.popen.pid)]
        for pid in frozen:
            kill(pid, signal.SIGSTOP)
        if blocked_clients(connection) >= registered:
            return frozen
        for pid in frozen:
            kill(pid, signal.SIGCONT)
        time.sleep(0.02)


def test_killed_worker_loses_no_confirmation_email(processes, make_user, settings):
    user = make_user("ann@example.com")
    with SMTPServer(delay=30) as slow_mail:
        worker = processes.general(E2E_SMTP_PORT=str(slow_mail.port))
        send_confirmation_email.enqueue(user.pk)
        wait_for(lambda: slow_mail.sessions, message="the worker to start sending")
        # The whole worker dies at once, as with its machine or container.
        forked = descendants(worker.popen.pid)
        worker.signal(signal.SIGKILL)
        for child in forked:
            kill(child)
        worker.wait()

    with SMTPServer() as mail:
        # Another worker's maintenance finds the job abandoned once its heartbeat is
        # WORKER_DEAD_AFTER_SECONDS old (3 s in these settings), and runs it again.
        replacement = processes.general(E2E_SMTP_PORT=str(mail.port))
        wait_for(lambda: mail.messages, timeout=30, message="the email to be sent again")
        # The operator's view: the live worker, and what recovery did with the dead one's job.
        # Once silent for WORKER_DEAD_AFTER_SECONDS, the killed worker's processes (still
        # registered for a while) show as dead: every one listed as live is the new one's.
        replacement_pids = {replacement.popen.pid, *descendants(replacement.popen.pid)}
        settings.WORKER_DEAD_AFTER_SECONDS = 3  # As the processes have it (e2e settings).

        def live():
            return [each for each in rq_engine.workers(10) if each.alive]

        wait_for(
            lambda: live() and {each.pid for each in live()} <= replacement_pids,
            timeout=15,
            message="only the new worker's processes to show as live",
        )
        seen = live()
        assert {process_type_of(each.queues) for each in seen} == {"general"}
    assert [message["To"] for message in mail.messages] == ["ann@example.com"]
    [recovery] = Recovery.objects.all()
    assert recovery.rerun and recovery.task_path == "accounts.tasks.send_confirmation_email"


def test_worker_killed_between_taking_a_job_and_starting_it_loses_nothing(
    processes, make_user, settings
):
    user = make_user("ann@example.com")
    connection = django_rq.get_connection(send_confirmation_email.queue_name)
    threads = pool_size(settings)
    with SMTPServer() as mail:
        worker = processes.general(E2E_SMTP_PORT=str(mail.port))
        wait_for(
            lambda: len(RQWorker.all(connection=connection)) == threads,
            message="the worker's RQ workers to register",
        )
        frozen = freeze_while_waiting(worker, connection)
        send_confirmation_email.enqueue(user.pk)
        # Redis hands the job to one of the frozen workers' waiting calls: it has left
        # its queue, and nobody will ever start it.
        queue = django_rq.get_queue(send_confirmation_email.queue_name)
        wait_for(lambda: queue.count == 0, message="a frozen worker to take the job")
        for pid in frozen:
            kill(pid)
        worker.wait()

        processes.general(E2E_SMTP_PORT=str(mail.port))
        wait_for(lambda: mail.messages, timeout=30, message="the email to be sent")
    assert [message["To"] for message in mail.messages] == ["ann@example.com"]


def test_without_a_fork_per_job_the_worker_itself_runs_the_job(processes, make_user, settings):
    user = make_user("ann@example.com")
    with SMTPServer(delay=3) as slow_mail:
        worker = processes.general(E2E_SMTP_PORT=str(slow_mail.port), RQ_FORK_PER_JOB="false")
        connection = django_rq.get_connection("email")
        threads = pool_size(settings)
        wait_for(
            lambda: len(RQWorker.all(connection=connection)) == threads,
            message="the pool's workers to start",
        )
        before = set(descendants(worker.popen.pid))  # The pool's workers, and a scheduler.

        send_confirmation_email.enqueue(user.pk)
        wait_for(lambda: slow_mail.sessions, message="the worker to start sending")

        assert set(descendants(worker.popen.pid)) == before  # No work horse.
        wait_for(lambda: slow_mail.messages, message="the email to be sent")
    assert [message["To"] for message in slow_mail.messages] == ["ann@example.com"]


def test_nothing_a_worker_forked_outlives_it(processes, settings):
    worker = processes.general()
    connection = django_rq.get_connection("email")
    threads = pool_size(settings)
    wait_for(
        lambda: len(RQWorker.all(connection=connection)) == threads,
        message="the pool's workers to start",
    )
    forked = descendants(worker.popen.pid)  # The pool's workers, and a scheduler.

    worker.signal(signal.SIGKILL)  # The parent alone, as an out-of-memory kill does.
    worker.wait()

    # Each stops as it would on SIGTERM: a scheduler releases its lock, a pool worker
    # finishes its job. None lives on beside the worker the platform starts next.
    wait_for(
        lambda: not any(alive(pid) for pid in forked),
        timeout=15,
        message="every process the worker forked to stop",
    )


def test_killed_work_horse_is_run_again_at_once(processes, make_user):
    user = make_user("ann@example.com")
    with SMTPServer(delay=30) as slow_mail:
        worker = processes.general(E2E_SMTP_PORT=str(slow_mail.port))
        result = send_confirmation_email.enqueue(user.pk)
        wait_for(lambda: slow_mail.sessions, message="the worker to start sending")
        # Only the child running the job dies, as the out-of-memory killer would do it.
        kill(work_horse(result.id))
        # Its worker sees the horse die and enqueues it again, for any worker of the pool
        # (the server now answers the second session slowly too, so count sessions
        # rather than messages).
        wait_for(lambda: slow_mail.sessions >= 2, message="the email to be tried again")
    assert "task_recovered" in worker.output and "rerun=True" in worker.output


def test_webhooks_runs_at_most_the_capped_number_of_rq_processes(processes, settings):
    cap = settings.RQ_MAX_PROCESSES_PER_WORKER
    assert settings.WORKER_PROCESSES["webhooks"]["threads"] > cap
    webhooks = processes.webhooks()
    connection = django_rq.get_connection("webhooks")

    def settled():
        # The pool's children are its worker processes (schedulers and work horses are
        # theirs); settled once every one of them has registered with Redis.
        registered = len(RQWorker.all(connection=connection))
        return registered >= cap and registered == len(children(webhooks.popen.pid))

    wait_for(settled, message=f"at least {cap} RQ workers to start and register")
    assert len(children(webhooks.popen.pid)) == cap
