"""The failed list: tasks whose last attempt failed with no further attempt coming, and
what staff may do with them (retry through the task's chain, or discard)."""

import logging
import time

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from . import retries
from .models import Failure, Retry
from .policies import policy_for

logger = logging.getLogger(__name__)

# A bulk action acts on at most this many failures per request; the page says if more match.
BULK_LIMIT = 1000
# How long a retry that didn't enqueue waits for the database to put its failure back.
PUT_BACK_PATIENCE_SECONDS = 5


def record(task, result_id: str, args, kwargs, error, *, attempt: int | None = None) -> None:
    """Put a failure on the list; a failure reported twice is listed once, and one that has
    a next attempt after all (an engine re-ran a dead worker's task) not at all."""
    if Retry.objects.filter(result_id=result_id).exists():
        return
    if attempt is None:
        attempt = retries.attempt_number_of(result_id)
    Failure.objects.get_or_create(
        result_id=result_id,
        defaults={
            "task_path": task.module_path,
            "queue_name": task.queue_name,
            "args": list(args),
            "kwargs": dict(kwargs),
            "exception_class": f"{type(error).__module__}.{type(error).__qualname__}",
            "message": str(error)[:500],
            "attempt": attempt,
            "max_attempts": policy_for(task).max_attempts,
        },
    )


def open_failures():
    """Failures nobody has retried or discarded, newest first."""
    return Failure.objects.filter(retried_at=None, discarded_at=None).order_by("-failed_at", "pk")


def task_of(failure: Failure):
    """The failure's task, or None if the code no longer has it (renamed or removed)."""
    try:
        return import_string(failure.task_path)
    except ImportError:
        return None


def retry(failure: Failure, *, reason: str):
    """Enqueue the next attempt of `failure`'s task, linked to it in its chain; None if it
    was retried or discarded meanwhile, or its task no longer exists (see task_of).

    The failure is taken off the list first, in its own transaction, so the enqueue and
    its link commit together right after (RQ's worker may start the job at once)."""
    task = task_of(failure)
    if task is None:
        return None
    with transaction.atomic():
        locked = open_failures().select_for_update().filter(pk=failure.pk).first()
        if locked is None:
            return None
        locked.retried_at = timezone.now()
        locked.save(update_fields=["retried_at"])
    try:
        with transaction.atomic():
            return retries.enqueue_next(
                task,
                locked.result_id,
                locked.args,
                locked.kwargs,
                reason=reason,
                attempt=locked.attempt,
            )
    except BaseException:
        put_back(locked)
        raise


def put_back(failure: Failure) -> None:
    """List `failure` again after a retry that didn't enqueue; if even that fails, log it:
    the line is how anyone finds a failure that left the list with no retry coming."""
    deadline = time.monotonic() + PUT_BACK_PATIENCE_SECONDS
    try:
        retries.patiently(
            lambda: Failure.objects.filter(pk=failure.pk).update(retried_at=None), deadline
        )
    except retries.UNREACHABLE:
        logger.error("event=retry_unlisted id=%s task=%s", failure.result_id, failure.task_path)


def discard(failure: Failure) -> bool:
    """Take `failure` off the list; False if it was retried or discarded meanwhile."""
    return bool(open_failures().filter(pk=failure.pk).update(discarded_at=timezone.now()))
