"""Recurring housekeeping for the task queue itself. Scheduled by `manage.py runscheduler`."""

from datetime import timedelta

from crontask import cron
from django.conf import settings
from django.tasks import task
from django.utils import timezone

from . import engines, outbox
from .models import Failure, Heartbeat, Recovery, Retry

# How long the Background work overview lists a dead worker process.
DEAD_WORKERS_SHOWN = timedelta(days=1)


@cron("* * * * *")
@task
def recover_dead_tasks() -> str:
    """Fail, and re-run where the policy allows, the tasks of workers whose heartbeat is
    WORKER_DEAD_AFTER_SECONDS old: back in the queue within that plus a minute. On RQ the
    workers do it themselves."""
    return f"recovered {engines.current().recover_dead_tasks()}"


@cron("17 * * * *")
@task
def prune_task_results() -> str:
    """Delete finished task results older than TASK_RESULT_RETENTION_DAYS, with their
    retry links, failed-list lines and outbox rows. What must last lives in the apps' own
    tables (docs/production.md). Also the rows of worker processes dead a day."""
    engines.current().prune_results()
    # A mail provider refusing for a day adds a row per attempt: they mustn't pile up.
    cutoff = timezone.now() - timedelta(days=settings.TASK_RESULT_RETENTION_DAYS)
    Retry.objects.filter(created_at__lt=cutoff).delete()
    Failure.objects.filter(failed_at__lt=cutoff).delete()
    Recovery.objects.filter(recovered_at__lt=cutoff).delete()
    # A process killed outright leaves its heartbeat row: the overview shows it for a day.
    Heartbeat.objects.filter(seen_at__lt=timezone.now() - DEAD_WORKERS_SHOWN).delete()
    outbox.prune(cutoff)
    return "pruned"


@cron("* * * * *")
@task
def enqueue_outbox() -> str:
    """Enqueue the outbox's tasks that their request couldn't (engine down at the commit,
    process died right after it), a minute or two after the engine is back."""
    return f"enqueued {outbox.drain()}"
