"""Recovering tasks whose worker died in the middle of them.

db_worker marks a task RUNNING when it starts and SUCCESSFUL or FAILED when it ends. A
worker killed with SIGKILL, by the out-of-memory killer or with its machine never writes
the end, so without help the task would stay RUNNING forever. A RUNNING task is orphaned
when its worker (the last id in `worker_ids`) has sent no heartbeat for
WORKER_DEAD_AFTER_SECONDS. Recovery marks it FAILED and applies the task's policy:

- tasks whose policy says `rerun_after_worker_died` (worker/policies.py) are idempotent,
  and are enqueued again with the same arguments;
- any other task is only marked failed. Webhook deliveries don't declare it: their own
  sweep (notifications.tasks.sweep_deliveries) counts the lost attempt and reschedules
  the delivery on its retry schedule.

Together this gives at-least-once execution: a task may run twice, never zero times.
"""

import logging
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult

from .models import Heartbeat
from .policies import policy_for

logger = logging.getLogger(__name__)


class WorkerDied(Exception):
    """The worker running this task stopped before the task finished."""


def live_worker_ids() -> set[str]:
    cutoff = timezone.now() - timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS)
    return set(Heartbeat.objects.filter(seen_at__gte=cutoff).values_list("worker_id", flat=True))


def orphaned_task_ids(*, worker_id: str | None = None) -> list:
    """RUNNING tasks whose worker is dead; with `worker_id`, those last run by that worker."""
    live = set() if worker_id else live_worker_ids()
    orphans = []
    for pk, worker_ids in DBTaskResult.objects.running().values_list("pk", "worker_ids"):
        last = worker_ids[-1] if worker_ids else None
        if (worker_id and last == worker_id) or (not worker_id and last not in live):
            orphans.append(pk)
    return orphans


def recover(result_id) -> bool:
    """Mark one orphaned task failed and apply its policy. False if someone else got to it."""
    with transaction.atomic():
        result = (
            DBTaskResult.objects.select_for_update(skip_locked=True)
            .filter(pk=result_id, status="RUNNING")
            .first()
        )
        if result is None:
            return False
        worker = result.worker_ids[-1] if result.worker_ids else "unknown"
        result.set_failed(WorkerDied(f"Worker {worker} stopped while running this task."))
        task = import_string(result.task_path)
        rerun = policy_for(task).rerun_after_worker_died
        if rerun:
            arguments = result.args_kwargs
            transaction.on_commit(partial(task.enqueue, *arguments["args"], **arguments["kwargs"]))
    logger.warning(
        "event=task_recovered task=%s id=%s worker=%s rerun=%s",
        result.task_path,
        result.pk,
        worker,
        rerun,
    )
    return True
