"""Worker identity and liveness: a stable id per process, and a heartbeat thread."""

import contextlib
import logging
import os
import socket
import threading

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from .models import Heartbeat

logger = logging.getLogger(__name__)


def default_worker_id() -> str:
    """`<host>:<slot>`, unique among running workers and the same after a restart.

    The slot is the platform's name for the process when it gives one (Heroku and Dokku
    set DYNO=worker.1), else the process id (often 1 in a container, where the host name
    is the container's). A worker that restarts under the same id knows that any task
    still marked RUNNING under that id belonged to its dead predecessor.
    """
    slot = os.environ.get("DYNO") or str(os.getpid())
    return f"{socket.gethostname()}:{slot}"[-64:]


class HeartbeatThread(threading.Thread):
    def __init__(self, worker_id: str):
        super().__init__(name=f"heartbeat-{worker_id}", daemon=True)
        self.worker_id = worker_id
        self.started_at = timezone.now()
        self.stopping = threading.Event()

    def beat(self):
        Heartbeat.objects.update_or_create(
            worker_id=self.worker_id,
            defaults={
                "hostname": socket.gethostname(),
                "pid": os.getpid(),
                "started_at": self.started_at,
                "seen_at": timezone.now(),
            },
        )

    def run(self):
        # The first beat is the caller's, before the worker takes its first task.
        try:
            while not self.stopping.wait(settings.WORKER_HEARTBEAT_SECONDS):
                try:
                    self.beat()
                except Exception:
                    # A database blip must not kill the thread; the next beat retries.
                    logger.exception("event=heartbeat_failed worker=%s", self.worker_id)
                    connection.close()
        finally:
            connection.close()

    def stop(self):
        """Stop beating and remove the row: a clean exit is not a death to recover from."""
        self.stopping.set()
        self.join(timeout=5)
        # If the database is down the row just goes stale, and recovery finds nothing of ours.
        with contextlib.suppress(DatabaseError):
            Heartbeat.objects.filter(worker_id=self.worker_id).delete()
