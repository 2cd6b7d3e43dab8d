"""Recurring housekeeping for the task queue itself. Scheduled by `manage.py runscheduler`."""

from datetime import timedelta

from crontask import cron
from django.conf import settings
from django.tasks import task
from django.utils import timezone

from . import engines, outbox
from .models import Retry


@cron("* * * * *")
@task
def recover_dead_tasks() -> str:
    """Fail and, where safe, re-run the tasks of workers that stopped sending heartbeats.

    Runs every minute, so a dead worker's tasks are back in the queue within
    WORKER_DEAD_AFTER_SECONDS plus a minute. On RQ the workers do it themselves.
    """
    return f"recovered {engines.current().recover_dead_tasks()}"


@cron("17 * * * *")
@task
def prune_task_results() -> str:
    """Delete finished task results older than TASK_RESULT_RETENTION_DAYS, with the links
    between retries and the outbox's record of tasks enqueued as long ago.

    Results are an execution log; anything that must last (a webhook delivery's history)
    lives in the app's own tables. Hourly, so each run deletes about an hour's worth.
    """
    engines.current().prune_results()
    # A mail provider refusing for a day adds a row per attempt: they mustn't pile up.
    cutoff = timezone.now() - timedelta(days=settings.TASK_RESULT_RETENTION_DAYS)
    Retry.objects.filter(created_at__lt=cutoff).delete()
    outbox.prune(cutoff)
    return "pruned"


@cron("* * * * *")
@task
def enqueue_outbox() -> str:
    """Enqueue the tasks recorded in the outbox that their request couldn't enqueue: the
    task engine was down at its commit, or the process died right after it.

    Every minute, so such a task is in the queue a minute or two after the engine is back.
    """
    return f"enqueued {outbox.drain()}"
