"""Starting the site's real processes (db_worker, crontask, gunicorn) from tests."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection


def database_url() -> str:
    """The test database, as a URL other processes can use (PostgreSQL only)."""
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Process:
    def __init__(self, args, log_path: Path, env: dict):
        self.log_path = log_path
        self.log = open(log_path, "w")  # noqa: SIM115  Closed in stop().
        self.popen = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    @property
    def output(self) -> str:
        return self.log_path.read_text()

    def signal(self, signum):
        self.popen.send_signal(signum)

    def wait(self, timeout=30) -> int:
        return self.popen.wait(timeout=timeout)

    def stop(self):
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=10)
        self.log.close()


class Processes:
    """Starts processes with the e2e settings on the test database; kills leftovers."""

    def __init__(self, tmp_path: Path, **env):
        self.tmp_path = tmp_path
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.e2e",
            "DATABASE_URL": database_url(),
            "E2E_MAIL_DIR": str(tmp_path / "mail"),
            **env,
        }
        self.started: list[Process] = []

    def start(self, *args, **env) -> Process:
        name = f"{args[0]}-{len(self.started)}.log"
        process = Process(args, self.tmp_path / name, {**self.env, **env})
        self.started.append(process)
        return process

    def worker(self, *args, **env) -> Process:
        return self.start(
            "db_worker",
            "--queue-name",
            ",".join(settings.TASK_QUEUES),
            "--interval",
            "0.1",
            "--no-reload",
            "--no-startup-delay",
            *args,
            **env,
        )

    def stop_all(self):
        for process in self.started:
            process.stop()


def wait_for(condition, timeout=20.0, interval=0.05, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout} s waiting for {message}.")
