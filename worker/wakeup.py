"""Wake on enqueue (PostgreSQL): an enqueue notifies its queue's channel, and an idle
database-engine worker listening there claims at once instead of at its next poll.

The NOTIFY is sent once the enqueueing transaction commits, so a rolled-back enqueue wakes
nobody. Polling stays: a lost notification, or a listening connection that drops, costs at
most WORKER_POLL_SECONDS. docs/workers.md says more.
"""

import contextlib
import json
import logging
import time
from functools import partial

import psycopg
from django.db import DatabaseError, connections, router, transaction
from django.db.transaction import TransactionManagementError
from django.dispatch import receiver
from django.tasks.signals import task_enqueued
from django.utils import timezone
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult
from psycopg import sql

logger = logging.getLogger("worker")

# After listening fails (the database away, or out of connections), a worker polls this
# long before it tries again.
LISTEN_RETRY_SECONDS = 30.0
# Connecting to listen gives up after 5 s, so a worker with tasks to start never waits
# long on it; keepalives find within about a minute a connection that died silently (a
# failover), which would otherwise leave the worker polling without a word.
LISTEN_CONNECTION = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


def channel(queue_name: str) -> str:
    """The channel an enqueue on `queue_name` notifies (at most 63 bytes, as PostgreSQL's)."""
    return f"tasks_{queue_name}".encode()[:63].decode(errors="ignore")


@receiver(task_enqueued, sender=DatabaseBackend)
def notify_workers(sender, task_result, **kwargs):
    """Wake the workers serving the task's queue once the enqueue commits, unless the task
    is due later (a poll finds it then). A notification that fails is logged, never raised:
    the task is enqueued, and a poll finds it."""
    database = router.db_for_write(DBTaskResult)
    if connections[database].vendor != "postgresql":
        return
    run_after = task_result.task.run_after
    if run_after is not None and run_after > timezone.now():
        return
    name = channel(task_result.task.queue_name)
    # With autocommit turned off by hand there is no commit to wait for: a poll finds it.
    with contextlib.suppress(TransactionManagementError):
        transaction.on_commit(partial(notify, database, name), using=database)


def notify(database: str, name: str):
    try:
        with connections[database].cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [name])
    except DatabaseError as error:
        logger.warning(
            "event=notify_failed channel=%s error=%s", name, json.dumps(str(error)[:200])
        )


class Listener:
    """A connection of its own that LISTENs on the channels of `queues`.

    wait(timeout) returns when a notification arrives or after `timeout` seconds. If the
    connection drops, it waits out the timeout (a poll) and listens again next time."""

    def __init__(self, queues: list[str]):
        self.queues = queues
        self.database = router.db_for_write(DBTaskResult)
        self.connection = None
        self.failed_at = None  # When listening last failed: it waits LISTEN_RETRY_SECONDS.

    def listen(self):
        params = connections[self.database].get_connection_params()
        self.connection = psycopg.connect(**{**LISTEN_CONNECTION, **params, "autocommit": True})
        for queue in self.queues:
            self.connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel(queue))))

    def wait(self, timeout: float) -> bool:
        """Whether a notification arrived (False: the timeout passed, or the connection
        failed, in which case it still waits out the timeout)."""
        started = time.monotonic()
        if self.failed_at is not None and started - self.failed_at < LISTEN_RETRY_SECONDS:
            time.sleep(timeout)  # Polling meanwhile.
            return False
        connecting = self.connection is None or self.connection.closed
        try:
            if connecting:
                self.listen()
                self.failed_at = None
            woken = any(True for _ in self.connection.notifies(timeout=timeout, stop_after=1))
            if woken:  # Drain the rest: one wake is enough, however many were sent.
                for _ in self.connection.notifies(timeout=0):
                    pass
            return woken
        except (psycopg.Error, DatabaseError, OSError) as error:
            logger.warning("event=listen_failed error=%s", json.dumps(str(error)[:200]))
            self.close()
            # Couldn't connect: poll a while. Dropped: listen again after this poll.
            self.failed_at = time.monotonic() if connecting else None
            time.sleep(max(0.0, timeout - (time.monotonic() - started)))
            return False

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None
