"""Retries by the task's own `@policy(max_attempts=..., backoff=...)`, on both task engines.

A failed run is enqueued again `backoff(exception, task_result)` seconds later, as a new
result; the Retry table links each failed result to the next. The bookkeeping waits out
an outage of the database or the engine for PATIENCE_SECONDS. docs/engines.md says more.
"""

import json
import logging
import sys
import time
from datetime import timedelta

from django.db import InterfaceError, OperationalError, connection
from django.db.models import Q
from django.dispatch import receiver
from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist
from django.tasks.signals import task_finished
from django.utils import timezone
from django_tasks.exceptions import TaskResultDoesNotExist as BackportTaskResultDoesNotExist
from django_tasks.signals import task_finished as backport_task_finished
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from . import failures
from .models import Failure, Retry
from .policies import policy_for

logger = logging.getLogger(__name__)


def attempt_number(task_result) -> int:
    """1 for a task's first run, 2 for its first retry, and so on."""
    return attempt_number_of(task_result.id)


def attempt_number_of(result_id: str) -> int:
    attempt = Retry.objects.filter(next_result_id=result_id).values_list("attempt", flat=True)
    return attempt.first() or 1


def latest_id(result_id: str) -> str:
    """The id of the last attempt in the chain that starts at `result_id`."""
    seen = {result_id}
    while (following := Retry.objects.filter(result_id=result_id).first()) is not None:
        result_id = following.next_result_id
        if result_id in seen:  # Can't happen with ids the engines make; never loop anyway.
            break
        seen.add(result_id)
    return result_id


def first_id(result_id: str) -> str:
    """The id of the first attempt in the chain that `result_id` belongs to."""
    seen = {result_id}
    while (earlier := Retry.objects.filter(next_result_id=result_id).first()) is not None:
        result_id = earlier.result_id
        if result_id in seen:
            break
        seen.add(result_id)
    return result_id


def chain(first: str) -> list[tuple[str, str | None]]:
    """Each attempt from `first` on, with why it was made (None for the first)."""
    attempts, reason, seen = [], None, set()
    while first not in seen:
        seen.add(first)
        attempts.append((first, reason))
        following = Retry.objects.filter(result_id=first).first()
        if following is None:
            break
        first, reason = following.next_result_id, following.reason
    return attempts


def task_path_of(result_id: str) -> str | None:
    """The task of a result that is part of a chain, from the chain alone."""
    link = Retry.objects.filter(Q(result_id=result_id) | Q(next_result_id=result_id)).first()
    return link.task_path if link else None


def result_or_none(task, result_id: str):
    """`task`'s result `result_id`, or None if it is gone (pruned, or expired from Redis)."""
    try:
        return task.get_result(result_id)
    except (TaskResultDoesNotExist, BackportTaskResultDoesNotExist):
        return None


def latest_result(task, result_id: str):
    """The last attempt's result in the chain from `result_id`, or None if it is gone."""
    return result_or_none(task, latest_id(result_id))


# A task that kills its worker every time (out of memory on one input, say) must not run
# for ever: after dead workers it runs this many times in all, or its max_attempts if more.
WORKER_DIED_MAX_ATTEMPTS = 3
WORKER_DIED_REASON = "The worker stopped while running it."


def may_rerun_after_worker_died(task, result_id: str) -> bool:
    """Whether the run `result_id` of `task`, cut off by a dead worker, may run again."""
    policy = policy_for(task)
    attempts = max(policy.max_attempts, WORKER_DIED_MAX_ATTEMPTS)
    return policy.rerun_after_worker_died and attempt_number_of(result_id) < attempts


def reason_for_retry(result_id: str) -> str | None:
    """Why the attempt before `result_id` failed, if `result_id` is a retry."""
    return Retry.objects.filter(next_result_id=result_id).values_list("reason", flat=True).first()


def enqueue_next(
    task, previous_id, args, kwargs, *, reason, delay=None, attempt=None, deadline=None
):
    """Enqueue the next attempt of `task` after `previous_id`, and link the two; None if
    an attempt after `previous_id` exists already (a failure reported twice).

    Each step waits out an outage until `deadline`, so the attempt is enqueued once even
    when its link has to wait. Inside a transaction both commit with it, or neither does.
    """
    deadline = deadline or time.monotonic() + PATIENCE_SECONDS
    if patiently(lambda: Retry.objects.filter(result_id=previous_id).exists(), deadline):
        return None
    run_after = None
    if delay is not None:
        run_after = timezone.now() + timedelta(seconds=delay)
        task = task.using(run_after=run_after)
    if attempt is None:
        attempt = patiently(lambda: attempt_number_of(previous_id), deadline)
    result = patiently(lambda: task.enqueue(*args, **kwargs), deadline)
    try:
        patiently(
            lambda: Retry.objects.create(
                result_id=previous_id,
                next_result_id=result.id,
                task_path=task.module_path,
                attempt=attempt + 1,
                reason=reason[:500],
                run_after=run_after,
            ),
            deadline,
        )
        # A failure listed before its engine re-ran it (a dead worker's) is off the list.
        patiently(
            lambda: Failure.objects.filter(result_id=previous_id).update(retried_at=timezone.now()),
            deadline,
        )
    except UNREACHABLE:
        if connection.in_atomic_block:
            raise
        # It runs, but counts as a first attempt: its chain of retries starts over.
        logger.error(
            "event=retry_unlinked task=%s id=%s next_id=%s",
            task.module_path,
            previous_id,
            result.id,
        )
    return result


# What the database or Redis raise while they are unreachable (a restart, a failover).
UNREACHABLE = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)
# A restart takes seconds: a retry's bookkeeping waits this long for it in all, within
# the 60 s RQ gives a failure callback.
PATIENCE_SECONDS = 45


def patiently(action, deadline: float):
    """`action()`, tried again every second while the database or the task engine is
    unreachable, until `deadline` (time.monotonic()); at once inside a transaction,
    which is lost with the connection."""
    while True:
        try:
            return action()
        except UNREACHABLE:
            if connection.in_atomic_block or time.monotonic() > deadline:
                raise
            connection.close()
            time.sleep(1)


@receiver([task_finished, backport_task_finished])
def retry_failed_task(sender, task_result, **kwargs):
    """Retry a failure by its task's policy; list it as failed when no retry is coming."""
    if task_result.status != TaskResultStatus.FAILED:
        return
    # The result holds only the traceback, and a backoff needs the exception: every engine
    # sends task_finished inside the `except` that caught it.
    exception = sys.exception()
    if exception is None:
        return  # RQ's abandoned job: its engine re-runs it or lists it (rerun_after_worker_died).
    deadline = time.monotonic() + PATIENCE_SECONDS
    try:
        if not retry(task_result, exception, deadline):
            patiently(
                lambda: failures.record(
                    task_result.task,
                    task_result.id,
                    task_result.args,
                    task_result.kwargs,
                    exception,
                ),
                deadline,
            )
    except UNREACHABLE as error:
        if connection.in_atomic_block:
            raise  # The database engine's failure transaction: the task stays RUNNING.
        # The task stays FAILED with no retry coming, and maybe off the failed list: this
        # line is how anyone knows.
        logger.error(
            "event=retry_lost task=%s id=%s error=%s",
            task_result.task.module_path,
            task_result.id,
            json.dumps(str(error)[:200]),
        )


def retry(task_result, exception, deadline) -> bool:
    """Enqueue the next attempt if the policy asks for one; whether one is coming."""
    policy = policy_for(task_result.task)
    if policy.max_attempts == 1:
        return False
    if not task_result.task.get_backend().supports_defer:
        # ImmediateBackend runs tasks inside .enqueue(), in the web request: a retry there
        # would keep the visitor waiting through the backoff.
        return False
    attempt = patiently(lambda: attempt_number(task_result), deadline)
    if attempt >= policy.max_attempts:
        return False
    delay = patiently(lambda: policy.backoff(exception, task_result), deadline)
    if delay is None:
        return False
    retried = enqueue_next(
        task_result.task,
        task_result.id,
        list(task_result.args),
        dict(task_result.kwargs),
        reason=f"{type(exception).__name__}: {exception}",
        delay=delay,
        attempt=attempt,
        deadline=deadline,
    )
    if retried is None:
        return True  # Reported twice; the first report enqueued the retry.
    logger.warning(
        "event=task_retry task=%s id=%s attempt=%d delay_s=%.0f error=%s",
        task_result.task.module_path,
        task_result.id,
        attempt,
        delay,
        json.dumps(str(exception)[:200]),  # Quoted as logfmt does: a server wrote part of it.
    )
    return True
