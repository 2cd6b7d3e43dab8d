"""The engines that can run this site's tasks, behind one small interface.

Each engine module provides `run_worker(*, queues, threads, worker_id)`, which blocks
serving the queues in the order given and, on SIGTERM or SIGINT, stops taking tasks and
lets running ones finish; and `problems()`, the reasons the engine is unhealthy, for
`manage.py worker_health` and /healthz. Only `worker/` imports an engine's package.
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
    """The engine module for the backend that TASKS["default"] configures."""
    backend = settings.TASKS["default"]["BACKEND"]
    try:
        return import_module(ENGINES[backend])
    except KeyError:
        raise ImproperlyConfigured(
            f"No worker engine runs {backend}; TASKS['default']['BACKEND'] must be one of "
            f"{', '.join(ENGINES)}."
        ) from None
