"""The recurring (@cron) tasks: their schedules, their next and last runs."""

import logging
from dataclasses import dataclass
from datetime import datetime

import crontask
from django.db import DatabaseError
from django.dispatch import receiver
from django.tasks.signals import task_finished
from django.utils import timezone
from django_tasks import signals as backport

from .checks import site_tasks
from .models import RecurringRun

logger = logging.getLogger(__name__)


@dataclass
class Recurring:
    task: object
    schedule: str
    next_run: datetime | None
    last_run: RecurringRun | None


def scheduled_tasks() -> dict:
    """Each task the scheduler enqueues, by its path, with its trigger."""
    return {job.func.__self__.module_path: job for job in crontask.scheduler.get_jobs()}


def recurring() -> list[Recurring]:
    site_tasks()  # Importing every tasks module is what schedules its @cron tasks.
    jobs = scheduled_tasks()
    last = {run.task_path: run for run in RecurringRun.objects.filter(task_path__in=jobs)}
    now = timezone.now()
    return [
        Recurring(
            task=job.func.__self__,
            schedule=str(job.trigger).removeprefix("cron[").removesuffix("]"),
            next_run=job.trigger.get_next_fire_time(None, now),
            last_run=last.get(path),
        )
        for path, job in sorted(jobs.items())
    ]


@receiver([task_finished, backport.task_finished])
def record_recurring_run(sender, task_result, **kwargs):
    path = task_result.task.module_path
    if path not in scheduled_tasks():
        return
    try:
        RecurringRun.objects.update_or_create(
            task_path=path,
            defaults={
                "result_id": str(task_result.id),
                "status": task_result.status,
                "finished_at": task_result.finished_at or timezone.now(),
            },
        )
    except DatabaseError as error:  # Never the reason a task's own outcome is lost.
        logger.warning("event=recurring_run_unrecorded task=%s error=%r", path, str(error)[:200])
