import socket
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from worker.models import Heartbeat


class Command(BaseCommand):
    help = (
        "Exit 0 if the worker on this host is healthy; otherwise print why and exit 1. "
        "Made for a container HEALTHCHECK of the worker process."
    )

    def handle(self, **options):
        now = timezone.now()
        problems = []

        workers = Heartbeat.objects.filter(
            hostname=socket.gethostname(),
            seen_at__gte=now - timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS),
        )
        worker_ids = set(workers.values_list("worker_id", flat=True))
        if not worker_ids:
            problems.append(
                f"No worker on {socket.gethostname()} has sent a heartbeat in "
                f"{settings.WORKER_DEAD_AFTER_SECONDS} s."
            )

        stuck_since = now - timedelta(seconds=settings.WORKER_STUCK_AFTER_SECONDS)
        for task_path, started_at, ids in DBTaskResult.objects.running().values_list(
            "task_path", "started_at", "worker_ids"
        ):
            if ids and ids[-1] in worker_ids and started_at < stuck_since:
                problems.append(
                    f"{task_path} has been running for {(now - started_at).seconds} s "
                    f"(limit {settings.WORKER_STUCK_AFTER_SECONDS} s)."
                )

        waiting_since = now - timedelta(seconds=settings.WORKER_MAX_QUEUE_WAIT_SECONDS)
        late = (
            DBTaskResult.objects.ready()
            .filter(enqueued_at__lt=waiting_since)
            .filter(Q(run_after=get_date_max()) | Q(run_after__lt=waiting_since))
            .count()
        )
        if late:
            problems.append(
                f"{late} ready task(s) have waited more than "
                f"{settings.WORKER_MAX_QUEUE_WAIT_SECONDS} s: add workers or look for a stuck one."
            )

        if problems:
            raise CommandError(" ".join(problems))
        self.stdout.write(f"ok: {len(worker_ids)} worker(s) alive on this host")
