"""Recovering the database engine's tasks whose worker died in the middle of them.

A RUNNING task is orphaned when the process that claimed it (the last of `worker_ids`)
has no live heartbeat. Recovery marks it FAILED and, if it declared
`@policy(rerun_after_worker_died=True)`, enqueues it again: at least once
(docs/workers.md).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Now
from django.tasks import TaskResultStatus
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult

from . import failures, retries
from .heartbeat import holds_liveness_lock
from .models import Heartbeat, Recovery

logger = logging.getLogger(__name__)


class WorkerDied(Exception):
    """The worker running this task stopped before the task finished."""


WORKER_DIED = "The worker stopped while running this task."


def remember(result_id: str, worker: str, task_path: str, *, rerun: bool) -> None:
    """Keep, for the Background work page, what recovery did with a dead worker's task (on
    either engine); a task recovered twice is kept once."""
    Recovery.objects.get_or_create(
        result_id=result_id, defaults={"worker": worker, "task_path": task_path, "rerun": rerun}
    )


def live_heartbeats():
    cutoff = Now() - timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS)
    return Heartbeat.objects.filter(seen_at__gte=cutoff)


def running_by_process() -> dict[str, list]:
    """RUNNING task ids, by the process that claimed them."""
    running = {}
    for pk, worker_ids in DBTaskResult.objects.running().values_list("pk", "worker_ids"):
        running.setdefault(worker_ids[-1] if worker_ids else None, []).append(pk)
    return running


def orphaned_task_ids() -> list:
    """RUNNING tasks whose process has no live heartbeat."""
    live = set(live_heartbeats().values_list("process_id", flat=True))
    return [
        pk
        for process_id, pks in running_by_process().items()
        if process_id not in live
        for pk in pks
    ]


def predecessors_task_ids(worker_id: str, process_id: str) -> list:
    """RUNNING tasks of earlier processes with this worker id that are provably gone: a
    stale heartbeat, or (PostgreSQL) a free liveness lock. A live one is left alone."""
    live = set(live_heartbeats().values_list("process_id", flat=True))
    orphans = []
    for owner, pks in running_by_process().items():
        if owner is None or owner == process_id or not owner.startswith(f"{worker_id}/"):
            continue
        if owner not in live or holds_liveness_lock(owner) is False:
            orphans.extend(pks)
    return orphans


def recover(result_id) -> bool:
    """Mark one orphaned task failed and apply its policy. False if someone else got to it."""
    with transaction.atomic():
        result = (
            DBTaskResult.objects.select_for_update(skip_locked=True)
            .filter(pk=result_id, status=TaskResultStatus.RUNNING)
            .first()
        )
        if result is None:
            return False
        worker = result.worker_ids[-1] if result.worker_ids else "unknown"
        # The message is shown to the member whose email it was: no host names in it.
        result.set_failed(WorkerDied(WORKER_DIED))
        try:
            task = import_string(result.task_path)
        except ImportError:  # The task was removed from the code since it was enqueued.
            task = None
        result_id = str(result.pk)
        rerun = task is not None and retries.may_rerun_after_worker_died(task, result_id)
        if rerun:
            # In the same transaction: a recovery cut off here leaves the task RUNNING for
            # the next one, never FAILED with no re-run coming.
            arguments = result.args_kwargs
            retries.enqueue_next(
                task,
                result_id,
                arguments["args"],
                arguments["kwargs"],
                reason=retries.WORKER_DIED_REASON,
            )
        elif task is not None:
            arguments = result.args_kwargs
            failures.record(
                task, result_id, arguments["args"], arguments["kwargs"], WorkerDied(WORKER_DIED)
            )
        remember(result_id, worker, result.task_path, rerun=rerun)
    logger.warning(
        "event=task_recovered task=%s id=%s worker=%s rerun=%s",
        result.task_path,
        result.pk,
        worker,
        rerun,
    )
    return True
