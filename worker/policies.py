"""`@policy`: what a task declares about itself that django.tasks has no place for yet.

Put it under `@task`. It imports no engine, so task modules may import it. Its retry
arguments follow Django's proposed API (django/new-features#142); docs/tasks.md says more.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass

# A retry's wait, give or take this fraction: tasks that failed together come back apart.
JITTER = 0.2


class ExpectedFailure(Exception):
    """Raised by a task to fail on purpose (a webhook receiver said no): the task fails and
    its policy may retry it, but the logs give it one line, not a traceback (worker/logs.py)."""


def jittered(seconds: float) -> float:
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
