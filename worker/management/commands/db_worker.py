import os

from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django_tasks_db.management.commands import db_worker

from worker import recovery
from worker.heartbeat import HeartbeatThread, default_worker_id


class Command(db_worker.Command):
    """django-tasks-db's worker, plus a heartbeat and a stable worker id.

    The heartbeat lets the scheduled recovery job tell a dead worker's tasks from a busy
    worker's. The stable id lets a restarted worker recover its predecessor's tasks at
    once, without waiting for the heartbeat to go stale.
    """

    help = db_worker.Command.help + ", with a heartbeat for crash recovery"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.set_defaults(worker_id=default_worker_id())

    def handle(self, *args, **options):
        if options["reload"] and os.environ.get(DJANGO_AUTORELOAD_ENV) != "true":
            # The autoreloader's parent process only watches files; its child does the work.
            return super().handle(*args, **options)

        worker_id = options["worker_id"]
        heartbeat = HeartbeatThread(worker_id)
        heartbeat.beat()
        for orphan in recovery.orphaned_task_ids(worker_id=worker_id):
            recovery.recover(orphan)
        heartbeat.start()
        try:
            return super().handle(*args, **options)
        finally:
            heartbeat.stop()
