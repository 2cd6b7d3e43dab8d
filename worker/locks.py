"""The scheduler lock: one `manage.py runscheduler` acts at a time, however many are started.

A PostgreSQL session-level advisory lock, not crontask's Redis lock: every site has its
database, and only the RQ engine needs a Redis. PostgreSQL releases it when its holder's
connection ends, however the scheduler died, and a waiting scheduler takes over.
crontask calls extend() every few seconds; if the lock is no longer held, it stops the
scheduler, which then exits 1 so that the platform restarts it.
"""

import time

from crontask import utils
from django.db import connection

# Any constant shared by all schedulers of this site; "crontask" in ASCII.
LOCK_KEY = 0x63726F6E
RETRY_SECONDS = 5


class SchedulerLock:
    def __init__(self, stdout):
        self.stdout = stdout
        self.backend_pid = None
        self.lost = False

    def __enter__(self):
        waiting = False
        with connection.cursor() as cursor:
            while True:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
                if cursor.fetchone()[0]:
                    break
                if not waiting:
                    self.stdout.write("Another scheduler holds the lock; waiting to take over.")
                    waiting = True
                time.sleep(RETRY_SECONDS)
            cursor.execute("SELECT pg_backend_pid()")
            self.backend_pid = cursor.fetchone()[0]
        self.stdout.write("Scheduler lock acquired.")
        return self

    def __exit__(self, *exc_info):
        # A session-level advisory lock ends with its session: closing the connection
        # releases it, and no separate unlock can be forgotten.
        connection.close()

    def extend(self, additional_time=None, replace_ttl=False):
        # Runs in one of the scheduler's threads, on that thread's own connection.
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND pid = %s AND classid = 0 AND objid = %s",
                    [self.backend_pid, LOCK_KEY],
                )
                held = cursor.fetchone() is not None
        finally:
            connection.close()
        if not held:
            self.lost = True
            raise utils.LockNotOwnedError("The scheduler lock's database connection was lost.")
        return True


class Unlocked:
    """No lock, for a database without advisory locks (SQLite in development)."""

    lost = False

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass

    def extend(self, additional_time=None, replace_ttl=False):
        return True
