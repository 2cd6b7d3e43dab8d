"""The site as a user meets it: the Procfile's processes on a throwaway database."""

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from email import message_from_string, policy
from pathlib import Path

import psycopg
from django.conf import settings


def procfile() -> dict[str, str]:
    """The Procfile's entries, so the tests start exactly what a platform would."""
    entries = {}
    for line in (settings.BASE_DIR / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TemporaryDatabase:
    """A PostgreSQL database of its own when DATABASE_URL is set, else a SQLite file."""

    def __init__(self, tmp_path: Path):
        self.server_url = os.environ.get("DATABASE_URL")
        if self.server_url:
            self.name = f"e2e_{secrets.token_hex(4)}"
            with psycopg.connect(self.server_url, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{self.name}"')
            self.url = self.server_url.rsplit("/", 1)[0] + "/" + self.name
        else:
            self.url = f"sqlite:///{tmp_path / 'e2e.sqlite3'}"

    def drop(self):
        if self.server_url:
            with psycopg.connect(self.server_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class Site:
    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.mail_dir = tmp_path / "mail"
        self.mail_dir.mkdir()
        self.database = TemporaryDatabase(tmp_path)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.e2e",
            "DATABASE_URL": self.database.url,
            "E2E_MAIL_DIR": str(self.mail_dir),
            "PORT": str(self.port),
            "SITE_URL": self.url,
            "WEB_CONCURRENCY": "2",
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        }
        # No flow here waits on a recurring job, so the scheduler stays off.
        self.names = ["web", "worker"]
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs = []

    def start(self):
        # As a platform does: the release step, then each process, through a shell.
        commands = procfile()
        subprocess.run(
            ["sh", "-c", commands["release"]],
            cwd=settings.BASE_DIR,
            env=self.env,
            check=True,
            timeout=120,
            stdout=subprocess.DEVNULL,
        )
        for name in self.names:
            log = open(self.tmp_path / f"{name}.log", "w")  # noqa: SIM115  Closed in stop().
            self.logs.append(log)
            self.processes[name] = subprocess.Popen(
                # exec, so that stop() signals the process itself rather than the shell.
                ["sh", "-c", f"exec {commands[name]}"],
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=log,
            )
        self.wait_until_up()
        return self

    def wait_until_up(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited early:\n{self.log(name)}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"The site did not answer within {timeout} s:\n{self.log('web')}")

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text()

    def stop(self):
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in self.logs:
            log.close()
        self.database.drop()

    def messages_to(self, address: str) -> list:
        """Every email sent to `address`, oldest first, as the worker wrote them."""
        found = []
        for path in sorted(self.mail_dir.glob("*.log"), key=lambda p: p.stat().st_mtime):
            for raw in path.read_text().split("\n" + "-" * 79 + "\n"):
                if raw.strip():
                    message = message_from_string(raw, policy=policy.default)
                    if message["To"] == address:
                        found.append(message)
        return found

    def wait_for_mail(self, address: str, count: int = 1, timeout: float = 15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(messages := self.messages_to(address)) >= count:
                return messages[count - 1]
            time.sleep(0.1)
        raise AssertionError(f"No email number {count} to {address} within {timeout} s.")


def confirmation_link(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"http://\S+/accounts/confirm/\S+/", text).group(0)
