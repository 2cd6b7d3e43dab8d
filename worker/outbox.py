"""A transactional outbox: a task asked for in a transaction is enqueued, at least once,
after it commits, even if the task engine is down then or the process dies right after.
docs/tasks.md says how and why.
"""

import logging
import time
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from . import retries
from .models import OutboxTask

logger = logging.getLogger(__name__)

# How long a row is left to the request that wrote it before the minute job enqueues it.
GRACE = timedelta(seconds=30)
# One run of the minute job enqueues for this long at most, so runs never pile up.
DRAIN_SECONDS = 45
BATCH = 500


def enqueue_on_commit(task, *args, **kwargs) -> OutboxTask:
    """Record `task(*args, **kwargs)` in the current transaction and enqueue it after commit.

    Arguments must be JSON. A failed enqueue is logged, never raised: the minute job
    enqueues the row later."""
    if task != import_string(task.module_path):
        raise ValueError(
            f"enqueue_on_commit() records {task.module_path} by its path, so it enqueues the "
            "task as @task defines it: pass the task itself, not task.using(...)."
        )
    row = OutboxTask.objects.create(task_path=task.module_path, args=list(args), kwargs=kwargs)
    transaction.on_commit(partial(enqueue_or_log, row.pk, row.task_path))
    return row


def enqueue(outbox_id: int) -> bool:
    """Enqueue the row's task unless it is enqueued already or being enqueued now; return
    whether this call did. Raises what the engine raised, leaving the row pending.

    The row is locked (a concurrent call skips it) and marked in one transaction with the
    enqueue: on the database engine the task and the mark commit together.
    """
    with transaction.atomic():
        pending = OutboxTask.objects.select_for_update(skip_locked=True).filter(
            pk=outbox_id, enqueued_at__isnull=True
        )
        row = pending.first()
        if row is None:
            return False
        result = row.task.enqueue(*row.args, **row.kwargs)
        row.result_id = result.id
        row.enqueued_at = timezone.now()
        row.save(update_fields=["result_id", "enqueued_at"])
    return True


def enqueue_or_log(outbox_id: int, task_path: str) -> bool:
    """enqueue(), for after commit: a failure is logged, and the row left to the minute job."""
    try:
        return enqueue(outbox_id)
    except Exception as error:
        log_failure(outbox_id, task_path, error)
        return False


def drain(grace: timedelta = GRACE) -> int:
    """Enqueue the pending rows recorded more than `grace` ago, oldest first, for up to
    DRAIN_SECONDS; return how many.

    Stops at an unreachable engine: it would refuse the rest too, each after a timeout. A
    row refused for a reason of its own (its task renamed) is recorded and passed over, so
    it never holds up the mail behind it.
    """
    deadline = time.monotonic() + DRAIN_SECONDS
    pending = OutboxTask.objects.filter(
        enqueued_at__isnull=True, created_at__lt=timezone.now() - grace
    ).order_by("pk")
    enqueued, last_pk = 0, 0
    while time.monotonic() < deadline:
        batch = list(pending.filter(pk__gt=last_pk).values_list("pk", "task_path")[:BATCH])
        if not batch:
            break
        for outbox_id, task_path in batch:
            last_pk = outbox_id
            try:
                enqueued += enqueue(outbox_id)
            except retries.UNREACHABLE as error:
                log_failure(outbox_id, task_path, error)
                return enqueued
            except Exception as error:
                log_failure(outbox_id, task_path, error)
                reason = f"{type(error).__name__}: {error}"[:300]
                OutboxTask.objects.filter(pk=outbox_id).update(last_error=reason)
            if time.monotonic() >= deadline:
                break
    return enqueued


def log_failure(outbox_id: int, task_path: str, error: Exception) -> None:
    logger.warning(
        "event=outbox_enqueue_failed task=%s outbox_id=%s error=%r",
        task_path,
        outbox_id,
        f"{type(error).__name__}: {error}"[:300],
    )


def task_result(row: OutboxTask):
    """The result of the latest attempt of the row's task, following retries; None while
    the row waits to be enqueued, or once the result is gone."""
    if row.enqueued_at is None:
        return None
    return retries.latest_result(row.task, row.result_id)


# Rows this old were missed by the minute job too: the engine is still unreachable, or
# nothing runs the job.
STALE = timedelta(minutes=5)


def problems() -> list[str]:
    """Tasks left waiting in the outbox for an engine that doesn't answer, for
    worker_health. Not rows the engine refused: restarting a worker wouldn't help them."""
    stale = OutboxTask.objects.filter(
        enqueued_at__isnull=True, last_error="", created_at__lt=timezone.now() - STALE
    ).count()
    if not stale:
        return []
    return [
        f"{stale} task(s) have waited in the outbox for more than {STALE.seconds // 60} "
        "minutes: check that the task engine answers and that the scheduler runs "
        "(event=outbox_enqueue_failed in the logs says why)."
    ]


def prune(cutoff) -> int:
    """Delete the rows enqueued before `cutoff`, and those recorded before it that the engine
    refused; return how many. Rows waiting for an engine that is down stay, however old."""
    enqueued = Q(enqueued_at__lt=cutoff)
    refused = Q(enqueued_at__isnull=True, created_at__lt=cutoff) & ~Q(last_error="")
    deleted, _ = OutboxTask.objects.filter(enqueued | refused).delete()
    return deleted
