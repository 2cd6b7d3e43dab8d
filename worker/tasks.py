"""Recurring housekeeping for the task queue itself. Scheduled by `manage.py runscheduler`."""

from datetime import timedelta

from crontask import cron
from django.conf import settings
from django.core.management import call_command
from django.tasks import task
from django.utils import timezone

from . import outbox, recovery
from .models import Retry


@cron("* * * * *")
@task
def recover_dead_tasks() -> str:
    """Fail and, where safe, re-run the tasks of workers that stopped sending heartbeats.

    Runs every minute, so a dead worker's tasks are back in the queue within
    WORKER_DEAD_AFTER_SECONDS plus a minute.
    """
    recovered = [pk for pk in recovery.orphaned_task_ids() if recovery.recover(pk)]
    return f"recovered {len(recovered)}"


@cron("17 * * * *")
@task
def prune_task_results() -> str:
    """Delete finished task results older than TASK_RESULT_RETENTION_DAYS, and the links
    between retries as old.

    Results are an execution log; anything that must last (a webhook delivery's history)
    lives in the app's own tables. Hourly, so each run deletes about an hour's worth.
    """
    call_command(
        "prune_db_task_results",
        queue_name="*",
        min_age_days=settings.TASK_RESULT_RETENTION_DAYS,
        verbosity=0,
    )
    # A mail provider refusing for a day adds a row per attempt: they mustn't pile up.
    cutoff = timezone.now() - timedelta(days=settings.TASK_RESULT_RETENTION_DAYS)
    Retry.objects.filter(created_at__lt=cutoff).delete()
    return "pruned"


@cron("* * * * *")
@task
def enqueue_outbox() -> str:
    """Enqueue the tasks recorded in the outbox that their request couldn't enqueue: the
    task engine was down at its commit, or the process died right after it.

    Every minute, so such a task is in the queue a minute or two after the engine is back.
    """
    return f"enqueued {outbox.drain()}"
