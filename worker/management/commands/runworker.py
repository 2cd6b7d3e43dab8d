from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from worker import engines
from worker.heartbeat import default_worker_id


class Command(BaseCommand):
    help = (
        "Run a worker of the given process type (a key of WORKER_PROCESSES) on the "
        "configured task engine, serving its queues in the order settings list them."
    )

    def add_arguments(self, parser):
        parser.add_argument("process_type", help=", ".join(settings.WORKER_PROCESSES))
        parser.add_argument("--worker-id", default=default_worker_id())
        parser.add_argument(
            "--batch", action="store_true", help="Exit once the queues are empty (for tests)."
        )

    def handle(self, *args, process_type, worker_id, batch, **options):
        try:
            process = settings.WORKER_PROCESSES[process_type]
        except KeyError:
            raise CommandError(
                f"No process type {process_type!r} in WORKER_PROCESSES; "
                f"choose one of {', '.join(settings.WORKER_PROCESSES)}."
            ) from None
        engines.current().run_worker(
            queues=process["queues"], threads=process["threads"], worker_id=worker_id, batch=batch
        )
