"""The seam between the worker commands and the engine that stores the tasks.

Each engine module provides:

- `run_worker(*, queues, threads, worker_id, batch=False)`: serves `queues` in the order
  listed, up to `threads` tasks at once. On SIGTERM or SIGINT it stops claiming, lets the
  tasks in flight finish and returns; with `batch`, it returns once nothing is ready.
- `problems(queues=None)`: what is wrong (unreachable, tasks stuck or late); [] if healthy.
- `live_workers_here(queues=None)`: how many live workers (serving `queues`) this host has.
- `live_workers(queues)`: how many live workers serving `queues` there are, on any host.
- `recover_dead_tasks()`: fails, and re-runs where the policy allows, dead workers' tasks.
- `prune_results()`: deletes results older than TASK_RESULT_RETENTION_DAYS.
- `queue_stats(queues)`: a QueueStats for each queue, in the order given.
- `due_later(limit)`: (how many, the first `limit` as Later) tasks waiting for run_after.
- `run_now(result_id)`: makes one of those due at once; False if it isn't waiting.
- `workers(limit)`: up to `limit` WorkerProcess, the live ones first.
- `task_path(result_id)`: the task of a stored result; None if there is no such result.
"""

from dataclasses import dataclass
from datetime import datetime
from importlib import import_module
from types import ModuleType

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

ENGINES = {
    "django.tasks.backends.immediate.ImmediateBackend": "worker.engines.immediate",
    "django_tasks_db.DatabaseBackend": "worker.engines.database",
    "django_tasks_rq.RQBackend": "worker.engines.rq",
}


def current() -> ModuleType:
    """The engine module for the configured default Tasks backend."""
    backend = settings.TASKS["default"]["BACKEND"]
    try:
        return import_module(ENGINES[backend])
    except KeyError:
        raise ImproperlyConfigured(
            f"No worker runs tasks for TASKS['default']['BACKEND'] = {backend!r}: use one of "
            f"{', '.join(ENGINES)}."
        ) from None


@dataclass
class QueueStats:
    """One queue, now: None where the engine doesn't keep the answer."""

    name: str
    waiting: int  # Ready to run now.
    oldest_wait: float | None  # Seconds the longest-waiting of those has waited.
    later: int  # Waiting for their run_after (retries waiting their turn).
    running: int
    finished_last_hour: int | None
    failed_last_hour: int | None


@dataclass
class WorkerProcess:
    """One worker process: live, or dead and remembered for a while (the database engine)."""

    name: str
    host: str
    pid: int
    queues: list[str]
    threads: int | None
    started_at: datetime
    seen_at: datetime | None  # Its last heartbeat.
    in_flight: int
    alive: bool


@dataclass
class Later:
    """A task waiting for its run_after: a retry waiting its turn, usually."""

    result_id: str
    task_path: str
    queue: str
    run_after: datetime
    args: list

    @property
    def task_name(self) -> str:
        return self.task_path.rpartition(".")[2]
