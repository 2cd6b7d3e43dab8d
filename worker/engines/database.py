"""The database engine: django-tasks-db's task rows, run by a pool of threads per process.

django-tasks-db's own worker runs one task at a time and takes tasks by priority. This
engine keeps its per-task code (`Worker.run_task`: the task_started/finished signals,
the return value, the failure with its traceback) and replaces the loop around it, the
way Solid Queue's workers run: one thread claims up to as many ready tasks as there are
idle threads, in one statement (CLAIM, PostgreSQL), taking the queues in the order the
process type lists them, and hands each to a thread of the pool. Every thread has its own
database connection (Django's connections are per thread). An idle process waits for an
enqueue's notification (worker/wakeup.py) or its next poll.

Around the loop, what the library lacks: a heartbeat on the database's clock, recovery
of a dead predecessor's tasks at start, patience with a database that goes away, and a
shutdown that lets every task in flight finish.
"""

import logging
import os
import signal
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    connections,
    router,
    transaction,
)
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Min,
    Q,
    Value,
    When,
)
from django.db.models.functions import Now
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, TaskContext, TaskResultStatus
from django.tasks.signals import task_finished, task_started
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult, get_date_max
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception
from psycopg.types.json import Jsonb

from .. import pausing, recovery
from ..heartbeat import HeartbeatThread, new_process_id
from ..models import Heartbeat, PausedQueue
from ..wakeup import Listener
from . import Later, QueueStats, WorkerProcess

logger = logging.getLogger("worker")

DATABASE_ERRORS = (OperationalError, InterfaceError)
DATABASE_RETRY_SECONDS = 1
# A thread checks its connection (Django's close_old_connections: CONN_MAX_AGE, and a
# health check) this often, not around every task, where each check cost a round trip; and
# before its next task once any thread has found the database gone.
CONNECTION_CHECK_SECONDS = 1.0
# However long the poll interval, a waiting worker notices SIGTERM this soon.
STOP_CHECK_SECONDS = 0.25

# PostgreSQL: take up to `limit` ready tasks and mark them RUNNING, in one statement, the
# queues in the order given. For each queue it reads the first tasks to run at once, and
# those to run later whose time has come, each from an index of its own (migration worker
# 0009), so its cost doesn't grow with the backlog or with the retries waiting for later.
# SKIP LOCKED leaves to another worker the rows it is taking. docs/workers.md shows the plan.
TABLE = DBTaskResult._meta.db_table
CLAIM = f"""
WITH ready AS (
    SELECT task.id FROM unnest(%(queues)s::text[]) WITH ORDINALITY AS queue(name, position)
    CROSS JOIN LATERAL (
        SELECT * FROM (
            SELECT id, priority, run_after, enqueued_at FROM {TABLE}
            WHERE status = %(ready)s AND queue_name = queue.name AND backend_name = %(backend)s
                AND run_after = %(never)s
            ORDER BY priority DESC, enqueued_at
            LIMIT %(limit)s
            FOR UPDATE SKIP LOCKED
        ) AS at_once
        UNION ALL
        SELECT * FROM (
            SELECT id, priority, run_after, enqueued_at FROM {TABLE}
            WHERE status = %(ready)s AND queue_name = queue.name AND backend_name = %(backend)s
                AND run_after < %(never)s AND run_after <= %(now)s
            ORDER BY priority DESC, run_after, enqueued_at
            LIMIT %(limit)s
            FOR UPDATE SKIP LOCKED
        ) AS fell_due
    ) AS task
    ORDER BY queue.position, task.priority DESC, task.run_after, task.enqueued_at
    LIMIT %(limit)s
)
UPDATE {TABLE} AS result
SET status = %(running)s, started_at = %(now)s, worker_ids = result.worker_ids || %(worker)s
FROM ready WHERE result.id = ready.id
RETURNING result.*
"""  # noqa: S608  The table's name is the model's; the values are parameters.


class ThreadedWorker(Worker):
    """django-tasks-db's Worker, with its loop replaced by a claiming thread and a pool."""

    def __init__(self, *, queues: list[str], threads: int, process_id: str, batch: bool):
        super().__init__(
            queue_names=queues,
            interval=settings.WORKER_POLL_SECONDS,
            batch=batch,
            backend_name=DEFAULT_TASK_BACKEND_ALIAS,
            startup_delay=False,
            max_tasks=None,
            worker_id=process_id,
            excluded_queue_names=[],
        )
        self.threads = threads
        self.stopping = threading.Event()
        # Claimed tasks not yet finished, and tasks whose end couldn't be written because
        # the database was gone; `changed` wakes the claiming thread when a task ends.
        self.in_flight: set = set()
        self.cut_off: set = set()
        self.changed = threading.Condition()
        # Bumped when the claiming thread finds the database gone: every thread then checks
        # its own connection before its next task.
        self.outages = 0
        self.checked = threading.local()
        self.listener = None
        self.database = router.db_for_write(DBTaskResult)

    def configure_signals(self):
        # Only the main thread may set handlers; under --reload the reloader owns them.
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
                signal.signal(signum, self.shutdown)

    def shutdown(self, signum, frame):
        if self.stopping.is_set():
            logger.warning("Received %s again - exiting now.", signal.strsignal(signum))
            os._exit(1)  # Tasks still in flight stay RUNNING, for recovery to find.
        logger.warning(
            "Received %s - shutting down gracefully, after %d task(s) in flight "
            "(send it again to exit now).",
            signal.strsignal(signum),
            len(self.in_flight),
        )
        self.stopping.set()

    def claimable(self):
        in_order = Case(
            *(When(queue_name=name, then=Value(n)) for n, name in enumerate(self.queue_names))
        )
        return (
            DBTaskResult.objects.ready()
            .filter(backend_name=self.backend_name, queue_name__in=self.queue_names)
            .exclude(queue_name__in=PausedQueue.objects.values("name"))
            .order_by(in_order, *DBTaskResult._meta.ordering)
        )

    def claim(self, limit: int) -> list[DBTaskResult]:
        if connections[self.database].vendor != "postgresql":
            return self.claim_in_transaction(limit)
        paused = pausing.recently_paused()
        params = {
            "queues": [queue for queue in self.queue_names if queue not in paused],
            "ready": TaskResultStatus.READY,
            "running": TaskResultStatus.RUNNING,
            "backend": self.backend_name,
            "never": get_date_max(),
            "now": timezone.now(),
            "limit": limit,
            "worker": Jsonb([self.worker_id]),
        }
        if not params["queues"]:
            return []
        claimed = list(DBTaskResult.objects.raw(CLAIM, params, using=self.database))
        # RETURNING keeps no order: the tasks start in the order they were taken.
        position = {queue: n for n, queue in enumerate(params["queues"])}
        claimed.sort(
            key=lambda task: (
                position[task.queue_name],
                -task.priority,
                task.run_after,
                task.enqueued_at,
            )
        )
        return claimed

    def claim_in_transaction(self, limit: int) -> list[DBTaskResult]:
        """SQLite: one writer at a time, so one transaction takes the tasks, in order."""
        tasks = self.claimable()
        try:
            with exclusive_transaction(tasks.db):
                claimed = list(tasks.select_for_update(skip_locked=True)[:limit])
                for result in claimed:
                    result.claim(self.worker_id)
        except OperationalError as error:
            if is_locked_database_exception(error):  # SQLite: another process is writing.
                return []
            raise
        return claimed

    def run(self):
        logger.info(
            "Starting worker process=%s queues=%s threads=%d",
            self.worker_id,
            ",".join(self.queue_names),
            self.threads,
        )
        with ThreadPoolExecutor(self.threads, thread_name_prefix="task") as pool:
            while not self.stopping.is_set():
                idle = self.threads - len(self.in_flight)
                if not idle:
                    with self.changed:
                        self.changed.wait_for(lambda: len(self.in_flight) < self.threads, 0.5)
                    self.read_notifications()
                    continue
                try:
                    self.recover_cut_off()  # First: a claim's tasks must reach the pool.
                    self.check_connection()
                    claimed = self.claim(idle)
                except DATABASE_ERRORS as error:
                    logger.warning("event=database_unavailable error=%r", str(error))
                    self.outages += 1
                    wait_for_database(self.stopping)
                    continue
                for result in claimed:
                    with self.changed:
                        self.in_flight.add(result.pk)
                    pool.submit(self.run_claimed, result)
                self.read_notifications()
                if len(claimed) < idle:  # Nothing more is ready for now.
                    if self.batch and not claimed and not self.in_flight:
                        break
                    self.wait_for_work()
            # Leaving the `with` waits for every task in flight to finish.
        if self.listener is not None:
            self.listener.close()
        try:
            self.recover_cut_off()
        except DATABASE_ERRORS:
            logger.warning("event=exit_with_cut_off_tasks ids=%s", sorted(map(str, self.cut_off)))

    def run_task(self, db_task_result: DBTaskResult) -> None:
        """django-tasks-db's run_task, with a failure and what its receivers record (the
        retry) in one transaction: a worker killed, or a database lost, between the two
        leaves the task RUNNING for recovery, never FAILED with no retry coming."""
        backend = None
        try:
            self.running_task = True
            task = db_task_result.task
            task_result = db_task_result.task_result
            backend = task.get_backend()
            task_started.send(sender=backend, task_result=task_result)
            arguments = task_result.args
            if task.takes_context:
                arguments = [TaskContext(task_result=task_result), *arguments]
            return_value = task.call(*arguments, **task_result.kwargs)
            # Inside the `try`, so a value that can't be stored fails the task.
            db_task_result.set_successful(return_value)
            task_finished.send(sender=backend, task_result=db_task_result.task_result)
        except BaseException as error:
            if isinstance(error, DATABASE_ERRORS):
                connection.close()  # Ended with the error: start the failure afresh.
                self.outages += 1  # Every thread checks its connection before its next task.
            with transaction.atomic():
                db_task_result.set_failed(error)
                if backend is None:  # Its code is gone (renamed, removed): nobody to tell.
                    logger.exception("event=task_not_found id=%s", db_task_result.pk)
                else:
                    self.send_finished(backend, db_task_result)
        finally:
            self.running_task = False
            self._run_tasks += 1

    def send_finished(self, backend, db_task_result: DBTaskResult) -> None:
        """task_finished for a failure. A receiver's own bug is logged and the failure
        stands; the database going away undoes both, for recovery."""
        try:
            with transaction.atomic():
                task_finished.send(sender=type(backend), task_result=db_task_result.task_result)
        except DATABASE_ERRORS:
            raise
        except Exception:
            logger.exception("event=task_finished_receiver_failed id=%s", db_task_result.pk)

    def wait_for_work(self):
        """Until an enqueue notifies (PostgreSQL), for one poll interval, or until asked to
        stop, whichever comes first."""
        if connection.vendor != "postgresql":
            self.stopping.wait(self.interval)
            return
        if self.listener is None:
            self.listener = Listener(self.queue_names)
        deadline = time.monotonic() + self.interval
        while not self.stopping.is_set() and (left := deadline - time.monotonic()) > 0:
            if self.listener.wait(min(left, STOP_CHECK_SECONDS)):
                return

    def read_notifications(self):
        """A busy worker still reads what it was sent: PostgreSQL keeps every notification
        until each listener has read it, in a queue that is full at 8 GB."""
        if self.listener is not None:
            self.listener.wait(0)

    def check_connection(self):
        """close_old_connections() for this thread, every CONNECTION_CHECK_SECONDS and
        after an outage, rather than around every task: each check costs a round trip."""
        checked = self.checked
        if (
            getattr(checked, "outages", None) != self.outages
            or time.monotonic() - checked.at > CONNECTION_CHECK_SECONDS
        ):
            close_old_connections()  # CONN_MAX_AGE, and a connection left broken.
            had_connection = connection.connection is not None
            connection.close_if_health_check_failed()  # Django's health check, now.
            if had_connection and connection.connection is None:
                self.outages += 1  # Its connection was gone: check the others' too.
            checked.outages, checked.at = self.outages, time.monotonic()

    def run_claimed(self, result: DBTaskResult):
        self.check_connection()
        try:
            self.run_task(result)
        except Exception as error:
            # The task ran, but neither its end nor its failure could be written (the
            # database went away, or a transaction it broke): its process recovers it.
            logger.warning("event=task_cut_off id=%s error=%r", result.pk, str(error))
            connection.close()
            with self.changed:
                self.cut_off.add(result.pk)
        finally:
            with self.changed:
                self.in_flight.discard(result.pk)
                self.changed.notify()

    def recover_cut_off(self):
        """Fail (and, where safe, re-run) the tasks whose end was lost in an outage."""
        while self.cut_off:
            pk = next(iter(self.cut_off))
            try:
                recovery.recover(pk)
            except DATABASE_ERRORS:
                raise  # Still cut off: tried again once the database answers.
            except Exception:  # Left RUNNING; worker_health reports it as stuck.
                logger.exception("event=task_recovery_failed id=%s", pk)
            with self.changed:
                self.cut_off.discard(pk)


def wait_for_database(stopping: threading.Event | None = None) -> bool:
    """Block until the database answers again; False if asked to stop first."""
    while not (stopping and stopping.is_set()):
        connection.close()
        if stopping:
            stopping.wait(DATABASE_RETRY_SECONDS)
        try:
            connection.ensure_connection()
        except OperationalError:
            continue
        logger.warning("event=database_available")
        return True
    return False


def run_worker(*, queues: list[str], threads: int, worker_id: str, batch: bool = False):
    """Serve `queues` in order with `threads` threads until SIGTERM (or, in batch mode,
    until nothing is ready)."""
    process_id = new_process_id(worker_id)
    worker = ThreadedWorker(queues=queues, threads=threads, process_id=process_id, batch=batch)
    worker.configure_signals()
    heartbeat = HeartbeatThread(worker_id, process_id, queues, threads)
    while True:
        try:
            heartbeat.beat()
            # A restarted worker finds what its dead predecessor (same worker id) left.
            for pk in recovery.predecessors_task_ids(worker_id, process_id):
                recovery.recover(pk)
            break
        except DATABASE_ERRORS as error:
            logger.warning("event=database_unavailable error=%r", str(error))
            if not wait_for_database(worker.stopping):
                return
    heartbeat.start()
    try:
        worker.run()
    finally:
        heartbeat.stop()


def recover_dead_tasks() -> int:
    """Fail, and re-run where safe, the RUNNING tasks of processes with no live heartbeat."""
    recovered = 0
    for pk in recovery.orphaned_task_ids():
        try:
            recovered += recovery.recover(pk)
        except DATABASE_ERRORS:
            raise
        except Exception:  # One task's trouble (its code gone, say) mustn't stop the rest.
            logger.exception("event=task_recovery_failed id=%s", pk)
    return recovered


def prune_results() -> None:
    call_command(
        "prune_db_task_results",
        queue_name="*",
        min_age_days=settings.TASK_RESULT_RETENTION_DAYS,
        verbosity=0,
    )


def live_workers_here(queues: list[str] | None = None) -> int:
    """How many worker processes on this host (serving `queues`, if given) are alive."""
    workers = recovery.live_heartbeats().filter(hostname=socket.gethostname())
    if queues is not None:
        workers = workers.filter(queues=",".join(queues))
    return workers.count()


def live_workers(queues: list[str]) -> int:
    """How many worker processes serving `queues`, on any host, are alive."""
    return recovery.live_heartbeats().filter(queues=",".join(queues)).count()


def problems(queues: list[str] | None = None) -> list[str]:
    """Tasks this host's workers have run too long, or ready tasks waiting too long (on
    `queues`, if given)."""
    found = []
    serving = f" serving {','.join(queues)}" if queues else ""
    # Only this host's: a health check that failed every worker for one stuck task would
    # have the platform restart them all.
    here = recovery.live_heartbeats().filter(hostname=socket.gethostname())
    live = set(here.values_list("process_id", flat=True))

    stuck = settings.WORKER_STUCK_AFTER_SECONDS
    running_for = ExpressionWrapper(Now() - F("started_at"), output_field=DurationField())
    for task_path, duration, ids in (
        DBTaskResult.objects.running()
        .filter(started_at__lt=Now() - timedelta(seconds=stuck))
        .values_list("task_path", running_for, "worker_ids")
    ):
        if ids and ids[-1] in live:
            found.append(
                f"{task_path} has been running for {duration.total_seconds():.0f} s "
                f"(limit {stuck} s)."
            )

    waiting = settings.WORKER_MAX_QUEUE_WAIT_SECONDS
    since = Now() - timedelta(seconds=waiting)
    late = DBTaskResult.objects.ready().filter(enqueued_at__lt=since)
    late = late.filter(Q(run_after=get_date_max()) | Q(run_after__lt=since))
    late = late.exclude(queue_name__in=PausedQueue.objects.values("name"))
    if queues is not None:
        late = late.filter(queue_name__in=queues)
    if count := late.count():
        found.append(
            f"{count} ready task(s){serving} have waited more than {waiting} s: "
            "add workers or look for a stuck one."
        )
    return found


def queue_stats(queues: list[str]) -> list[QueueStats]:
    """Four grouped counts, whatever the number of queues and results."""
    now = timezone.now()
    results = DBTaskResult.objects.filter(queue_name__in=queues)
    waiting_since = Case(
        When(run_after=get_date_max(), then=F("enqueued_at")), default=F("run_after")
    )
    ready = {
        row["queue_name"]: row
        for row in results.ready()
        .values("queue_name")
        .annotate(n=Count("pk"), since=Min(waiting_since))
    }
    later = dict(
        results.filter(status=TaskResultStatus.READY, run_after__gt=now)
        .exclude(run_after=get_date_max())
        .values("queue_name")
        .annotate(n=Count("pk"))
        .values_list("queue_name", "n")
    )
    running = dict(
        results.running()
        .values("queue_name")
        .annotate(n=Count("pk"))
        .values_list("queue_name", "n")
    )
    finished = {}
    for queue, status, n in (
        results.filter(finished_at__gte=now - timedelta(hours=1))
        .values("queue_name", "status")
        .annotate(n=Count("pk"))
        .values_list("queue_name", "status", "n")
    ):
        finished[queue, status] = n
    stats = []
    for name in queues:
        waiting = ready.get(name, {"n": 0, "since": None})
        stats.append(
            QueueStats(
                name=name,
                waiting=waiting["n"],
                oldest_wait=(now - waiting["since"]).total_seconds() if waiting["since"] else None,
                later=later.get(name, 0),
                running=running.get(name, 0),
                finished_last_hour=finished.get((name, TaskResultStatus.SUCCESSFUL), 0)
                + finished.get((name, TaskResultStatus.FAILED), 0),
                failed_last_hour=finished.get((name, TaskResultStatus.FAILED), 0),
            )
        )
    return stats


def waiting_for_later():
    return DBTaskResult.objects.filter(
        status=TaskResultStatus.READY, run_after__gt=timezone.now()
    ).exclude(run_after=get_date_max())


def due_later(limit: int) -> tuple[int, list[Later]]:
    later = waiting_for_later()
    first = later.order_by("run_after")[:limit]
    return later.count(), [
        Later(str(r.pk), r.task_path, r.queue_name, r.run_after, r.args_kwargs["args"])
        for r in first
    ]


def result_rows(result_id: str):
    """The row with this id; none for an id that isn't a UUID (a URL typed by hand)."""
    try:
        return DBTaskResult.objects.filter(pk=uuid.UUID(result_id))
    except ValueError:
        return DBTaskResult.objects.none()


def run_now(result_id: str) -> bool:
    rows = waiting_for_later() & result_rows(result_id)
    return bool(rows.update(run_after=timezone.now()))


def task_path(result_id: str) -> str | None:
    """The task of result `result_id`, while the result is kept."""
    return result_rows(result_id).values_list("task_path", flat=True).first()


def workers(limit: int) -> list[WorkerProcess]:
    """Every process with a heartbeat row (a dead one's stays a day), the live first."""
    dead_after = timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS)
    rows = Heartbeat.objects.annotate(
        alive=ExpressionWrapper(Q(seen_at__gte=Now() - dead_after), output_field=BooleanField())
    ).order_by("-alive", "-seen_at", "process_id")[:limit]
    running = recovery.running_by_process()
    return [
        WorkerProcess(
            name=row.process_id,
            host=row.hostname,
            pid=row.pid,
            queues=row.queues.split(","),
            threads=row.threads,
            started_at=row.started_at,
            seen_at=row.seen_at,
            in_flight=len(running.get(row.process_id, ())),
            alive=row.alive,
        )
        for row in rows
    ]
