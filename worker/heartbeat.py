"""Worker identity and liveness: a stable id, a per-process token, and a heartbeat thread.

Beats are written, and judged by recovery, on the database's clock only, so hosts whose
clocks disagree can't make a live worker look dead.
"""

import contextlib
import logging
import os
import secrets
import socket
import threading

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models.functions import Now

from .models import Heartbeat

logger = logging.getLogger(__name__)

# PostgreSQL advisory locks taken by live worker processes: (this, hashtext(process_id)).
# Any constant shared by the site's workers; "wrkr" in ASCII.
LIVENESS_LOCK_CLASS = 0x77726B72


def beat_interval() -> float:
    """Six beats to WORKER_DEAD_AFTER_SECONDS, so a worker is dead only after missing
    several, and a test that shortens the one shortens the other."""
    return settings.WORKER_DEAD_AFTER_SECONDS / 6


def default_worker_id() -> str:
    """`<host>:<slot>`, the same after a restart, so a restarted worker finds what its
    predecessor left RUNNING. The slot is DYNO (Heroku, Dokku: `general.1`), else the
    process id (often 1 in a container, whose host name is its own)."""
    slot = os.environ.get("DYNO") or str(os.getpid())
    return f"{socket.gethostname()}:{slot}"[-55:]


def new_process_id(worker_id: str) -> str:
    """The worker id plus a random token: what this process writes on the tasks it claims."""
    return f"{worker_id[-55:]}/{secrets.token_hex(4)}"


def holds_liveness_lock(process_id: str) -> bool | None:
    """Whether the process's liveness lock is held: None where the database has none.

    PostgreSQL frees it when the process dies, however abruptly: a free lock proves the
    owner gone without waiting for its heartbeat to go stale.
    """
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(%s))", [LIVENESS_LOCK_CLASS, process_id]
        )
        if cursor.fetchone()[0]:
            cursor.execute(
                "SELECT pg_advisory_unlock(%s, hashtext(%s))", [LIVENESS_LOCK_CLASS, process_id]
            )
            return False
    return True


class HeartbeatThread(threading.Thread):
    def __init__(self, worker_id: str, process_id: str, queues: list[str], threads: int):
        super().__init__(name=f"heartbeat-{process_id}", daemon=True)
        self.worker_id = worker_id
        self.process_id = process_id
        self.queues = queues
        self.threads = threads
        self.stopping = threading.Event()
        self.locked_session = None

    def beat(self):
        """Write this process's row, on the database's clock; the first beat creates it."""
        updated = Heartbeat.objects.filter(process_id=self.process_id).update(seen_at=Now())
        if not updated:
            Heartbeat.objects.create(
                process_id=self.process_id,
                worker_id=self.worker_id,
                queues=",".join(self.queues),
                hostname=socket.gethostname(),
                pid=os.getpid(),
                threads=self.threads,
                started_at=Now(),
                seen_at=Now(),
            )

    def hold_liveness_lock(self):
        # Only this thread takes the lock, on its own session: a lock taken on another
        # thread's session would keep this one waiting for as long as that session lives
        # (CONN_MAX_AGE). Taken again on each new session (after an outage), never waited for.
        if connection.vendor != "postgresql":
            return
        connection.ensure_connection()
        if self.locked_session is connection.connection:
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                [LIVENESS_LOCK_CLASS, self.process_id],
            )
            if not cursor.fetchone()[0]:
                # Held by a session of ours that the server hasn't ended yet: beat anyway.
                logger.warning("event=liveness_lock_busy process=%s", self.process_id)
                return
        self.locked_session = connection.connection

    def run(self):
        # The caller made the first beat before taking any task; this thread beats from
        # now on, at once and then every beat_interval().
        try:
            while True:
                try:
                    self.hold_liveness_lock()
                    self.beat()
                except Exception:
                    # A database blip must not kill the thread; the next beat retries.
                    logger.exception("event=heartbeat_failed process=%s", self.process_id)
                    connection.close()
                if self.stopping.wait(beat_interval()):
                    break
        finally:
            connection.close()

    def stop(self):
        """Stop beating and remove the row: a clean exit is not a death to recover from."""
        self.stopping.set()
        self.join(timeout=5)
        # If the database is down the row just goes stale, and recovery finds nothing of ours.
        with contextlib.suppress(DatabaseError):
            Heartbeat.objects.filter(process_id=self.process_id).delete()
