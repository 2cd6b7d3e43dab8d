"""What a task declares about itself that django.tasks has no place for yet.

A policy is declared beside the task it governs, under its @task decorator, so renaming
or moving the task can't silently drop it:

    @task(queue_name="email")
    @policy(rerun_after_worker_died=True, max_attempts=5, backoff=smtp_backoff)
    def send_confirmation_email(user_id: int) -> str: ...

`max_attempts` and `backoff(exception, task_result) -> seconds | None` follow the retry
API proposed for Django itself (django/new-features#142), so moving to Django's own is a
rename. Nothing here imports an engine: task modules may import it.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass

# Each wait before a retry is stretched or shrunk by up to this fraction, so that tasks
# which failed together (a provider's outage) don't all come back in the same second.
JITTER = 0.2


def jittered(seconds: float) -> float:
    """`seconds`, give or take JITTER of it."""
    return seconds * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311  Not a secret.


@dataclass(frozen=True)
class TaskPolicy:
    # Safe to run again when its worker died mid-run (the task is idempotent).
    rerun_after_worker_died: bool = False
    # Runs in all, the first included; 1 means never retried.
    max_attempts: int = 1
    # Seconds to wait before the next attempt after `exception`, or None not to retry it.
    backoff: Callable | None = None

    def __post_init__(self):
        if self.max_attempts < 1:
            raise ValueError("max_attempts counts the first run too, so it must be at least 1.")
        if self.max_attempts > 1 and self.backoff is None:
            raise ValueError("A task that retries (max_attempts > 1) needs a backoff function.")


DEFAULT_POLICY = TaskPolicy()


def policy(**options) -> Callable:
    """Attach a TaskPolicy to a task function; put it under @task."""

    def decorate(func):
        func.task_policy = TaskPolicy(**options)
        return func

    return decorate


def policy_for(task) -> TaskPolicy:
    """The policy a task declared, or the default (no retries, no re-run)."""
    return getattr(task.func, "task_policy", DEFAULT_POLICY)
