"""The site as a user meets it: the Procfile's processes on a throwaway database."""

import ipaddress
import itertools
import os
import re
import socket
import urllib.request
from email import message_from_string, policy
from pathlib import Path

from ..engines import REDIS_URL, redis_or_skip
from ..processes import Processes, TemporaryDatabase, wait_for

# Each browser context is a visitor from an address of its own (198.18.0.0/15 is for
# tests), which the site learns from X-Forwarded-For as it would behind a platform's router.
client_numbers = itertools.count(1)


def visitor_headers() -> dict[str, str]:
    """Headers that make a new browser context a client of its own, so the site's
    per-client rate limits count one visitor's actions rather than the whole suite's."""
    address = ipaddress.ip_address("198.18.0.0") + next(client_numbers)
    return {"X-Forwarded-For": str(address)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Site:
    def __init__(self, tmp_path: Path, redis_url: str = REDIS_URL, **env):
        self.mail_dir = tmp_path / "mail"
        self.mail_dir.mkdir()
        self.database = TemporaryDatabase(tmp_path, os.environ.get("DATABASE_URL"))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        # TASKS_ENGINE=rq in the environment runs the same processes on RQ, with a Redis
        # database of the tests' own.
        rq = os.environ.get("TASKS_ENGINE") == "rq"
        self.redis = redis_or_skip(redis_url) if rq else None
        self.processes = Processes(
            tmp_path,
            DATABASE_URL=self.database.url,
            PORT=str(port),
            SITE_URL=self.url,
            WEB_CONCURRENCY="2",
            # One proxy in front, as on a platform: each test's browser names its client
            # (tests/e2e/conftest.py), and per-client rate limits apply per visitor.
            TRUSTED_PROXY_COUNT="1",
            **({"REDIS_URL": redis_url} if self.redis else {}),
            **env,
        )

    def start(self):
        if self.redis:
            self.redis.flushdb()
        self.processes.release()
        # No flow here waits on a recurring job, so the scheduler stays off.
        self.web = self.processes.start("web")
        self.general = self.processes.start("general")
        self.webhooks = self.processes.start("webhooks")
        wait_for(self.is_up, timeout=30, message="the site to answer /healthz")
        return self

    def is_up(self) -> bool:
        for process in (self.web, self.general, self.webhooks):
            if process.popen.poll() is not None:
                raise RuntimeError(f"A process exited early:\n{process.output}")
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2):
                return True
        except OSError:
            return False

    def stop(self):
        self.processes.stop_all()
        self.database.drop()
        if self.redis:
            self.redis.flushdb()

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

    def wait_for_mail(self, address: str, count: int = 1):
        messages = wait_for(
            lambda: len(found := self.messages_to(address)) >= count and found,
            timeout=15,
            message=f"email number {count} to {address}",
        )
        return messages[count - 1]


def confirmation_link(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"http://\S+/accounts/confirm/\S+/", text).group(0)
