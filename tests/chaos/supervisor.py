"""Procfile processes kept running the way a platform keeps them: restarted after a short
delay whenever they exit, each with the processes it started, as a container is."""

import contextlib
import os
import signal
import subprocess
import threading
from pathlib import Path

from django.conf import settings

from ..processes import procfile

RESTART_DELAY_SECONDS = 1.0


class Supervised:
    """One Procfile line, run in a session of its own and restarted when it exits.

    The session plays the container: when its main process exits, whatever else runs in
    it (RQ's pool workers and work horses) is killed too before the restart. The line
    gets DYNO=<name>.1, as on Heroku and Dokku, so a restarted worker keeps its worker id
    and finds what its predecessor left running.
    """

    def __init__(self, name: str, env: dict, log_path: Path):
        self.name = name
        self.command = procfile()[name]
        self.env = {**env, "DYNO": f"{name}.1"}
        self.log_path = log_path
        self.restarts = 0
        self.popen: subprocess.Popen | None = None
        self.stopping = threading.Event()
        # Starting a process and deciding to stop are one step each, never interleaved.
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.keep_running, name=f"supervise-{name}")

    def start(self):
        self.thread.start()
        return self

    @property
    def pid(self) -> int | None:
        popen = self.popen
        return popen.pid if popen and popen.poll() is None else None

    def keep_running(self):
        with open(self.log_path, "a") as log:
            while True:
                with self.lock:
                    if self.stopping.is_set():
                        break
                    self.popen = subprocess.Popen(
                        ["sh", "-c", f"exec {self.command}"],
                        cwd=settings.BASE_DIR,
                        env=self.env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                log.write(f"chaos: started {self.name} pid={self.popen.pid}\n")
                log.flush()
                code = self.popen.wait()
                kill_session(self.popen.pid)
                log.write(f"chaos: {self.name} pid={self.popen.pid} exited with {code}\n")
                log.flush()
                if self.stopping.wait(RESTART_DELAY_SECONDS):
                    break
                self.restarts += 1

    def stop(self):
        """SIGTERM, as a platform stops a process, then SIGKILL for what is left."""
        with self.lock:
            self.stopping.set()
            pid = self.pid
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                kill_session(pid)
        self.thread.join()


def stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces): state, ppid,
    pgrp, session, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def session_members(session: int) -> list[int]:
    """The processes of a session: those that put themselves in a process group of
    their own (RQ's work horses) included."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int(stat_fields(int(entry.name))[3]) == session:
                    members.append(int(entry.name))
    return members


def kill_session(session: int):
    """What a container's end does to whatever still runs in it."""
    for pid in session_members(session):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def children(pid: int) -> list[int]:
    """Its children, or none if it is gone."""
    with contextlib.suppress(OSError):
        return [
            int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ]
    return []


def descendants(pid: int) -> list[tuple[int, int]]:
    """Every process under `pid`, with its depth (1 for a child)."""
    found = []
    for child in children(pid):
        found.append((child, 1))
        found.extend((grandchild, depth + 1) for grandchild, depth in descendants(child))
    return found
