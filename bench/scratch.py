"""What every benchmark module starts from: a scratch PostgreSQL database, the Procfile's
processes pointed at it, and local receivers on free ports.

The bench never imports from tests/: what both need (the SMTP server, the receivers)
lives in peers/.
"""

import contextlib
import json
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import redis

from peers.serving import Served

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


class ScratchDatabase:
    """A database on SERVER_URL's server, made for one run and dropped after."""

    def __init__(self):
        self.name = f"bench_{secrets.token_hex(4)}"
        with psycopg.connect(SERVER_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        self.url = SERVER_URL.rsplit("/", 1)[0] + "/" + self.name

    def drop(self):
        with psycopg.connect(SERVER_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def environment(database_url: str, mail_dir: str, **extra: str) -> dict[str, str]:
    """The environment of the site's processes: bench settings on `database_url`."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": database_url,
        "E2E_MAIL_DIR": mail_dir,
        # The Procfile's commands (gunicorn, python) are this virtualenv's.
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        **extra,
    }


def procfile() -> dict[str, str]:
    """The Procfile's entries, so the bench starts exactly what a platform would."""
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def start(process_type: str, *extra: str, env: dict, log: Path | None = None) -> subprocess.Popen:
    """The Procfile's `process_type` line with `extra` arguments; stderr to `log`."""
    return subprocess.Popen(
        ["sh", "-c", f"exec {procfile()[process_type]} {shlex.join(extra)}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "w") if log else subprocess.DEVNULL,
    )


def spawn(command: list[str], *, env: dict, log: Path) -> subprocess.Popen:
    """A command that isn't a Procfile line (a peer's worker, say); stderr to `log`."""
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w")
    )


def start_web(*extra: str, env: dict, log: Path) -> tuple[subprocess.Popen, int]:
    """The Procfile's web process on a port the system picks (PORT=0); its log says which."""
    process = start("web", *extra, env={**env, "PORT": "0"}, log=log)
    deadline = time.monotonic() + 30
    while not (found := re.search(r"Listening at: http://[\d.]+:(\d+)", log.read_text())):
        if time.monotonic() > deadline or process.poll() is not None:
            stop(process)
            raise RuntimeError(f"gunicorn did not start: {log.read_text()}")
        time.sleep(0.1)
    return process, int(found.group(1))


def stop(*processes: subprocess.Popen):
    """SIGTERM, as a platform stops a process, then wait; kill what outlasts 30 s."""
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def python(*args: str, env: dict) -> str:
    """Run this Python (a script or -m module, and its arguments); return its output."""
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


@contextlib.contextmanager
def receiver(server):
    """Serve a socketserver server (bound to 127.0.0.1 port 0) in a thread; yield its URL."""
    with Served(server) as served:
        yield f"http://127.0.0.1:{served.port}/hooks"


class Scratch:
    """A migrated throwaway database (PostgreSQL, or a SQLite file), and ways to run the
    Procfile's processes and the bench's measuring modules against it."""

    def __init__(self, tmp, kind="postgres"):
        self.tmp = Path(tmp)
        if kind == "postgres":
            self.database = ScratchDatabase()
            url = self.database.url
        else:
            self.database = None
            url = f"sqlite:///{self.tmp / secrets.token_hex(4)}.sqlite3"
        self.env = environment(url, str(tmp))
        python("manage.py", "migrate", "--noinput", "-v0", env=self.env)

    def run(self, *args, env=None) -> str:
        return python(*args, env={**self.env, **(env or {})})

    def measure(self, *args, env=None):
        return json.loads(self.run("-m", "bench.engine", *args, env=env))

    def start(self, process_type, *extra, env=None, log="process"):
        return start(
            process_type, *extra, env={**self.env, **(env or {})}, log=self.tmp / f"{log}.log"
        )

    def drop(self):
        if self.database:
            self.database.drop()


def empty_redis():
    redis.Redis.from_url(REDIS_URL).flushdb()
