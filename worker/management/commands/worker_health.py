import socket

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from worker import engines, outbox, pausing
from worker.processes import served_by
from worker.tasks import enqueue_outbox


class Command(BaseCommand):
    help = (
        "Exit 0 if the workers of this host are healthy; otherwise print why and exit 1. "
        "Made for a container HEALTHCHECK: pass the process type the container runs."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "process_type",
            nargs="?",
            choices=list(settings.WORKER_PROCESSES),
            help="Check only the workers of this process type, and only its queues.",
        )

    def handle(self, *, process_type, **options):
        engine = engines.current()
        queues = settings.WORKER_PROCESSES[process_type]["queues"] if process_type else None
        problems = engine.problems(queues)
        if queues is None or enqueue_outbox.queue_name in queues:
            problems += outbox.problems()
        if not engine.live_workers_here(queues):
            serving = f" serving {','.join(queues)}" if queues else ""
            problems.insert(
                0,
                f"No worker{serving} on {socket.gethostname()} has sent a heartbeat in "
                f"{settings.WORKER_DEAD_AFTER_SECONDS} s.",
            )
        paused = sorted(pausing.paused_queues() & set(queues or served_by()))
        note = f" (paused by staff: {', '.join(paused)})" if paused else ""
        if problems:
            raise CommandError(" ".join(problems) + note)
        self.stdout.write(f"ok: {process_type or 'all process types'}{note}")
