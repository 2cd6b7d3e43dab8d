"""Starting the Procfile's processes from tests, the way a platform does."""

import os
import secrets
import shlex
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

# Other processes can't see an in-memory SQLite database; PostgreSQL, they can.
needs_shared_database = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="worker processes need a shared database: run with DATABASE_URL=postgres://...",
)


def procfile() -> dict[str, str]:
    """The Procfile's entries, so tests start exactly what a platform would."""
    entries = {}
    for line in (settings.BASE_DIR / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def database_url() -> str:
    """The test database, as a URL other processes can use (PostgreSQL only)."""
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class TemporaryDatabase:
    """A database made for one run and dropped after: on the PostgreSQL server at
    `server_url` when there is one, else a SQLite file in `tmp_path`."""

    def __init__(self, tmp_path: Path, server_url: str | None):
        self.server_url = server_url
        self.name = f"scratch_{secrets.token_hex(4)}"
        if server_url:
            with psycopg.connect(server_url, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{self.name}"')
            self.url = server_url.rsplit("/", 1)[0] + "/" + self.name
        else:
            self.url = f"sqlite:///{tmp_path / self.name}.sqlite3"

    def drop(self):
        if self.server_url:
            with psycopg.connect(self.server_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def wait_for(condition, timeout=20.0, interval=0.05, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout} s waiting for {message}.")


class Process:
    """One process, run through a shell as platforms run Procfile lines, logging to a file."""

    def __init__(self, command: str, log_path: Path, env: dict):
        self.log_path = log_path
        self.log = open(log_path, "w")  # noqa: SIM115  Closed in stop().
        self.popen = subprocess.Popen(
            # exec, so that signals reach the process itself rather than the shell.
            ["sh", "-c", f"exec {command}"],
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
        """Ask it to stop as a platform would, and insist if it doesn't."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.log.close()


class Processes:
    """Starts Procfile processes with the e2e settings, and stops whatever is left."""

    def __init__(self, tmp_path: Path, **env):
        self.tmp_path = tmp_path
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.e2e",
            "E2E_MAIL_DIR": str(tmp_path / "mail"),
            # `python` and `gunicorn` in the Procfile are this environment's.
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            **env,
        }
        self.started: list[Process] = []

    def release(self):
        subprocess.run(
            ["sh", "-c", procfile()["release"]],
            cwd=settings.BASE_DIR,
            env=self.env,
            check=True,
            timeout=120,
            stdout=subprocess.DEVNULL,
        )

    def start(self, name: str, *extra_args: str, **env) -> Process:
        command = " ".join([procfile()[name], *map(shlex.quote, extra_args)])
        log_path = self.tmp_path / f"{name}-{len(self.started)}.log"
        process = Process(command, log_path, {**self.env, **env})
        self.started.append(process)
        return process

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        """Run a management command as an operator would on the same host, and wait for it."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=60,
        )

    def general(self, *extra_args: str, **env) -> Process:
        return self.start("general", *extra_args, **env)

    def webhooks(self, *extra_args: str, **env) -> Process:
        return self.start("webhooks", *extra_args, **env)

    def stop_all(self):
        for process in self.started:
            process.stop()
