from argparse import ArgumentTypeError, BooleanOptionalAction

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.autoreload import run_with_reloader

from worker import engines
from worker.heartbeat import default_worker_id


def process_type(name: str) -> str:
    if name not in settings.WORKER_PROCESSES:
        raise ArgumentTypeError(
            f"{name!r} is not a process type of WORKER_PROCESSES "
            f"({', '.join(settings.WORKER_PROCESSES)})."
        )
    return name


def worker_id(value: str) -> str:
    # A random token is added to it per process, within the 64 characters a row allows.
    if not 0 < len(value) <= 55:
        raise ArgumentTypeError("A worker id has 1 to 55 characters.")
    return value


class Command(BaseCommand):
    help = (
        "Run the tasks of one process type of settings.WORKER_PROCESSES: its queues, in the "
        "order listed, with its number of threads, on the configured engine."
    )
    requires_system_checks = ["worker"]

    def add_arguments(self, parser):
        parser.add_argument("process_type", type=process_type, help="A key of WORKER_PROCESSES.")
        parser.add_argument(
            "--worker-id",
            type=worker_id,
            default=default_worker_id(),
            help="Stable across restarts, so a restarted worker finds what its predecessor "
            "left running (default: host:DYNO, or host:pid).",
        )
        parser.add_argument(
            "--batch",
            action="store_true",
            help="Run every ready task, then exit (database engine; for tests and benchmarks).",
        )
        parser.add_argument(
            "--reload",
            action=BooleanOptionalAction,
            default=False,
            help="Restart on code changes, for development (tasks in flight are cut off).",
        )

    def handle(self, *, process_type, worker_id, batch, reload, **options):
        process = settings.WORKER_PROCESSES[process_type]
        engine = engines.current()
        arguments = {"queues": process["queues"], "threads": process["threads"]}
        if batch:
            arguments["batch"] = True
        if reload:
            run_with_reloader(engine.run_worker, worker_id=worker_id, **arguments)
        else:
            engine.run_worker(worker_id=worker_id, **arguments)
