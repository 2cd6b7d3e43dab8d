from crontask import utils
from crontask.management.commands import crontask
from django.db import connection

from worker.locks import SchedulerLock


class Command(crontask.Command):
    """django-crontask's scheduler, locked through PostgreSQL so only one runs at a time."""

    def handle(self, *args, **options):
        if isinstance(utils.lock, utils.FakeLock):  # No Redis lock configured.
            if connection.vendor == "postgresql":
                utils.lock = SchedulerLock(self.stdout)
            else:
                self.stderr.write(
                    "No scheduler lock on this database: run only one scheduler process."
                )
        super().handle(*args, **options)
