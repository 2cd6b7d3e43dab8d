"""One log line when a task starts and one when it finishes, as key=value pairs.

logfmt is what Heroku, Loki, Datadog and most log platforms parse into fields without
configuration, so "slowest tasks" or "failures by task" is a query, not a regex.

Each receiver listens to Django's signals and to those of the django-tasks backport,
which the RQ backend sends instead: the same lines come out on every engine.
"""

import logging

from django.dispatch import receiver
from django.tasks.signals import task_finished, task_started
from django_tasks import signals as backport

logger = logging.getLogger("worker.tasks")


@receiver([task_started, backport.task_started])
def log_task_started(sender, task_result, **kwargs):
    logger.info(
        "event=task_started task=%s id=%s queue=%s attempt=%d worker=%s",
        task_result.task.module_path,
        task_result.id,
        task_result.task.queue_name,
        task_result.attempts,
        task_result.worker_ids[-1] if task_result.worker_ids else "-",
    )


@receiver([task_finished, backport.task_finished])
def log_task_finished(sender, task_result, **kwargs):
    duration = None
    if task_result.started_at and task_result.finished_at:
        duration = (task_result.finished_at - task_result.started_at).total_seconds() * 1000
    logger.log(
        logging.INFO if task_result.status == "SUCCESSFUL" else logging.WARNING,
        "event=task_finished task=%s id=%s queue=%s attempt=%d status=%s duration_ms=%s",
        task_result.task.module_path,
        task_result.id,
        task_result.task.queue_name,
        task_result.attempts,
        task_result.status,
        f"{duration:.1f}" if duration is not None else "-",
    )
