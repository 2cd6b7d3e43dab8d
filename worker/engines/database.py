"""The database engine (django-tasks-db): tasks are rows, claimed by `db_worker` processes."""

import socket
from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.db.models import Q
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from worker.models import Heartbeat


def run_worker(*, queues: list[str], threads: int, worker_id: str, batch: bool = False) -> None:
    # Threads are the worker helper's to add; this engine runs one task at a time.
    call_command(
        "db_worker",
        queue_name=",".join(queues),
        worker_id=worker_id,
        interval=0.1,
        batch=batch,
        reload=False,
        startup_delay=not batch,
    )


def workers_on_this_host() -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS)
    return Heartbeat.objects.filter(hostname=socket.gethostname(), seen_at__gte=cutoff).count()


def problems() -> list[str]:
    """Tasks running too long, ready tasks waiting too long."""
    now = timezone.now()
    found = []
    live = set(
        Heartbeat.objects.filter(
            seen_at__gte=now - timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS)
        ).values_list("worker_id", flat=True)
    )
    stuck_since = now - timedelta(seconds=settings.WORKER_STUCK_AFTER_SECONDS)
    for task_path, started_at, ids in DBTaskResult.objects.running().values_list(
        "task_path", "started_at", "worker_ids"
    ):
        # A dead worker's task is recovery's business (worker/recovery.py), not stuck.
        if ids and ids[-1] in live and started_at < stuck_since:
            found.append(
                f"{task_path} has been running for {(now - started_at).total_seconds():.0f} s "
                f"(limit {settings.WORKER_STUCK_AFTER_SECONDS} s)."
            )

    waiting_since = now - timedelta(seconds=settings.WORKER_MAX_QUEUE_WAIT_SECONDS)
    late = (
        DBTaskResult.objects.ready()
        .filter(enqueued_at__lt=waiting_since)
        .filter(Q(run_after=get_date_max()) | Q(run_after__lt=waiting_since))
        .count()
    )
    if late:
        found.append(
            f"{late} ready task(s) have waited more than "
            f"{settings.WORKER_MAX_QUEUE_WAIT_SECONDS} s: add workers or look for a stuck one."
        )
    return found
