"""The seam between `manage.py runworker` and the engine that stores the tasks.

Each engine module runs the configured backend's workers and reports on their health:

    run_worker(*, queues: list[str], threads: int, worker_id: str) -> None
        Blocks. Serves `queues` in the order listed, with up to `threads` tasks in
        flight. On SIGTERM or SIGINT it stops claiming, lets the tasks in flight finish,
        and returns.
    problems(queues: list[str] | None = None) -> list[str]
        What is wrong with the engine (unreachable, tasks stuck or waiting too long), for
        `manage.py worker_health` and /healthz; empty when healthy.
    live_workers_here(queues: list[str] | None = None) -> int
        How many workers (serving `queues`) are alive on this host, for worker_health.
    recover_dead_tasks() -> int
        Fail, and re-run where the task's policy allows, the tasks of workers that died;
        how many. For the minute job of the same name.
    prune_results() -> None
        Delete finished task results older than TASK_RESULT_RETENTION_DAYS, for the
        hourly job prune_task_results.

Only worker/ imports an engine's library (django_tasks_db, django_tasks_rq, rq).
"""

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
