"""Start-up checks: every task's queue is served by one process type of WORKER_PROCESSES,
and every process type has its line in each Procfile."""

import shlex
from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.tasks import Task
from django.utils.module_loading import module_has_submodule
from django_tasks.base import Task as BackportTask

# The RQ backend's tasks are the django-tasks backport's class.
TASK_CLASSES = (Task, BackportTask)


def site_tasks() -> list[Task]:
    """The tasks defined in the `tasks` module of each installed app."""
    found = []
    for app in apps.get_app_configs():
        if module_has_submodule(app.module, "tasks"):
            module = import_module(f"{app.name}.tasks")
            found += [value for value in vars(module).values() if isinstance(value, TASK_CLASSES)]
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


PROCFILES = ["Procfile", "Procfile.dev"]


def process_types_started(procfile: str) -> set[str]:
    """The process type of every `runworker` in a Procfile, its options skipped."""
    started = set()
    for line in procfile.splitlines():
        words = shlex.split(line.partition(":")[2], comments=True)
        if "runworker" not in words:
            continue
        arguments = iter(words[words.index("runworker") + 1 :])
        for word in arguments:
            if word == "--worker-id":
                next(arguments, None)
            elif not word.startswith("-"):
                started.add(word)
                break
    return started


@checks.register("worker")
def check_every_process_type_has_a_procfile_line(app_configs, **kwargs):
    errors = []
    for procfile in PROCFILES:
        path = settings.BASE_DIR / procfile
        if not path.exists():
            continue  # An image or a site that doesn't start its processes from one.
        started = process_types_started(path.read_text())
        for name in sorted(started - settings.WORKER_PROCESSES.keys()):
            errors.append(
                checks.Error(
                    f"{procfile} runs `runworker {name}`, which is no process type of "
                    "WORKER_PROCESSES.",
                    hint="Name a process type of WORKER_PROCESSES, or add one.",
                    id="worker.E003",
                )
            )
        for name in sorted(settings.WORKER_PROCESSES.keys() - started):
            errors.append(
                checks.Error(
                    f"Process type {name!r} has no line in {procfile}: nothing would run "
                    "its queues.",
                    hint=f"Add `{name}: python manage.py runworker {name}` to {procfile}.",
                    id="worker.E004",
                )
            )
    return errors
