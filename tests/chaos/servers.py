"""Servers a chaos run owns, so it can take them down and bring them back for real:
a PostgreSQL cluster and a Redis server of its own, and an SMTP server with an outage."""

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest
import redis

from peers.smtp import SMTPServer

from ..e2e.site import free_port
from ..processes import wait_for


def skip_or_fail(message: str):
    """Skip, except in CI, where a missing server is a broken machine (.ci/run)."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def postgres_bindir() -> Path:
    """Where initdb and pg_ctl are: on PATH, or Debian's newest /usr/lib/postgresql/*/bin."""
    if initdb := shutil.which("initdb"):
        return Path(initdb).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if not versions:
        skip_or_fail(
            "The chaos test needs PostgreSQL's initdb and pg_ctl (apt-get install postgresql)."
        )
    return Path(versions[-1]).parent


def _version(path: str) -> float:
    return float(Path(path).parent.parent.name)


class PostgresError(Exception):
    pass


class PostgresCluster:
    """A cluster of its own on a free port, in a temporary directory, run as `postgres`
    when the test runs as root (PostgreSQL refuses to run as root)."""

    def __init__(self):
        self.bindir = postgres_bindir()
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="chaos-postgres-"))
        self.data = self.directory / "data"
        self.log_path = self.directory / "postgresql.log"
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.run_as:
            shutil.chown(self.directory, "postgres")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/chaos"

    def pg(self, program: str, *args: str):
        finished = subprocess.run(
            [*self.run_as, self.bindir / program, *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if finished.returncode:
            raise PostgresError(f"{program} exited {finished.returncode}: {finished.stderr}")

    def start(self):
        if not self.data.exists():
            self.pg("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            # Every thread of web (2 x 32) and webhooks (25) may hold a connection.
            "-c max_connections=300 -c fsync=off"
        )
        self.pg(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-o", options, "-w", "start"
        )
        return self

    def stop(self, mode: str = "fast"):
        self.pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self):
        admin_url = self.url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute("CREATE DATABASE chaos")

    def query(self, sql: str, params=()) -> list[tuple]:
        with psycopg.connect(self.url, connect_timeout=5) as connection:
            return connection.execute(sql, params).fetchall()

    def remove(self):
        with contextlib.suppress(PostgresError):  # Not running.
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


class RedisServer:
    """redis-server on a free port, appending every write to its file so that a restart
    keeps the queues, as a production Redis with persistence does."""

    def __init__(self):
        if not shutil.which("redis-server"):
            skip_or_fail(
                "The chaos test's RQ run needs redis-server (apt-get install redis-server)."
            )
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="chaos-redis-"))
        self.log_path = self.directory / "redis.log"
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.popen = None

    def start(self):
        self.popen = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--dir", str(self.directory), "--appendonly", "yes", "--save", ""]
            + ["--logfile", str(self.log_path)],
            stdout=subprocess.DEVNULL,
        )
        wait_for(self.answers, timeout=20, message="redis-server to answer")
        return self

    def answers(self) -> bool:
        connection = redis.Redis.from_url(self.url, socket_timeout=1)
        try:
            return connection.ping()
        except redis.RedisError:
            return False
        finally:
            connection.close()

    def connection(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def stop(self):
        """SIGTERM: Redis writes its append-only file and exits, as on a deploy or a reboot."""
        if self.popen and self.popen.poll() is None:
            self.popen.terminate()
            self.popen.wait(timeout=30)

    def remove(self):
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


class FlakySMTP:
    """A real SMTP server that can go away and come back on the same port; `messages`
    holds what it accepted in every life."""

    def __init__(self, delay: float):
        self.port = free_port()
        self.delay = delay
        self.lives: list[SMTPServer] = []
        self.up = False
        self.start()

    def start(self):
        self.lives.append(SMTPServer(delay=self.delay, port=self.port).__enter__())
        self.up = True

    def stop(self):
        if self.up:
            self.lives[-1].__exit__(None, None, None)
            self.up = False

    @property
    def messages(self) -> list:
        return [message for server in self.lives for message in list(server.messages)]
