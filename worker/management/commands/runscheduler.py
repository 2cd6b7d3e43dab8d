import importlib

from crontask import scheduler
from crontask.management.commands import crontask
from django.core.management.base import CommandError
from django.db import connection

from worker.locks import SchedulerLock, Unlocked


class Command(crontask.Command):
    help = (
        "Run django-crontask's scheduler for every @cron task, holding a PostgreSQL lock so "
        "that one scheduler acts however many are started. Exits 1 if it loses the lock."
    )

    def handle(self, *args, **options):
        # crontask's own handle() picks its lock from a module global (Redis or none) and
        # exits 0 when the lock is lost; this one brings its own lock and fails loudly.
        if not options["no_task_loading"]:
            self.load_tasks(options)
        if not options["no_heartbeat"]:
            importlib.import_module("crontask.tasks")
        if connection.vendor == "postgresql":
            lock = SchedulerLock(self.stdout)
        else:
            self.stderr.write("No scheduler lock on this database: run only one scheduler.")
            lock = Unlocked()
        with lock:
            self.launch_scheduler(lock, scheduler)
        if lock.lost:
            # A platform's restart policy brings the scheduler back, to wait for the lock.
            raise CommandError("The scheduler lost its lock (its database connection ended).")
