import socket

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from worker import engines


class Command(BaseCommand):
    help = (
        "Exit 0 if the worker on this host is healthy; otherwise print why and exit 1. "
        "Made for a container HEALTHCHECK of the worker process."
    )

    def handle(self, **options):
        engine = engines.current()
        problems = engine.problems()
        alive = engine.workers_on_this_host()
        if not alive:
            problems.insert(
                0,
                f"No worker on {socket.gethostname()} has sent a heartbeat in "
                f"{settings.WORKER_DEAD_AFTER_SECONDS} s.",
            )
        if problems:
            raise CommandError(" ".join(problems))
        self.stdout.write(f"ok: {alive} worker(s) alive on this host")
