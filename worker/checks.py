"""Start-up checks: every task's queue is served by some process type of WORKER_PROCESSES."""

from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.tasks import Task
from django.utils.module_loading import module_has_submodule


def site_tasks() -> list[Task]:
    """The tasks defined in the `tasks` module of each installed app."""
    found = []
    for app in apps.get_app_configs():
        if module_has_submodule(app.module, "tasks"):
            module = import_module(f"{app.name}.tasks")
            found += [value for value in vars(module).values() if isinstance(value, Task)]
    return found


@checks.register("worker")
def check_every_queue_is_served(app_configs, **kwargs):
    served = {}
    for name, process in settings.WORKER_PROCESSES.items():
        for queue in process["queues"]:
            served.setdefault(queue, []).append(name)
    errors = []
    for queue, names in served.items():
        if len(names) > 1:
            errors.append(
                checks.Error(
                    f"Queue {queue!r} is served by process types {', '.join(names)}.",
                    hint="Give each queue to one process type in WORKER_PROCESSES, so its "
                    "order and sizing mean one thing.",
                    id="worker.E002",
                )
            )
    for task in site_tasks():
        if task.queue_name not in served:
            errors.append(
                checks.Error(
                    f"Task {task.module_path} uses queue {task.queue_name!r}, which no process "
                    "type of WORKER_PROCESSES serves: its tasks would wait forever.",
                    hint="Add the queue to a process type in config/settings/base.py.",
                    id="worker.E001",
                )
            )
    return errors
