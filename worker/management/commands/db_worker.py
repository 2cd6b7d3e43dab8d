import logging
import os
import time

from django.db import InterfaceError, OperationalError, connection, connections
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django_tasks_db.management.commands import db_worker

from worker import recovery
from worker.heartbeat import HeartbeatThread, default_worker_id

logger = logging.getLogger("worker")

DATABASE_RETRY_SECONDS = 1


class Command(db_worker.Command):
    """django-tasks-db's worker, plus a heartbeat, a stable id, and patience with the database.

    The heartbeat lets the scheduled recovery job tell a dead worker's tasks from a busy
    worker's. The stable id lets a restarted worker recover its predecessor's tasks at
    once. And where the stock worker exits when the database goes away (a restart, a
    failover), this one waits for it to come back and carries on.
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
        heartbeat.start()
        try:
            while True:
                # Tasks left RUNNING under this id were cut off: by the death of the process
                # that had this id before, or by the database outage just survived.
                for orphan in recovery.orphaned_task_ids(worker_id=worker_id):
                    recovery.recover(orphan)
                try:
                    return super().handle(*args, **options)
                except (OperationalError, InterfaceError) as error:
                    logger.warning(
                        "event=database_unavailable worker=%s error=%r", worker_id, str(error)
                    )
                    self.wait_for_database()
        finally:
            heartbeat.stop()

    def wait_for_database(self):
        while True:
            connections.close_all()
            time.sleep(DATABASE_RETRY_SECONDS)
            try:
                connection.ensure_connection()
            except OperationalError:
                continue
            logger.warning("event=database_available")
            return
