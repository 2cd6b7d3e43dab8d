"""One chaos run: the Procfile's processes under members' load while faults strike, then
a wait for the background work to settle, and the check of what must hold after it."""

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import redis
from django.conf import settings

from peers.receiver import Receiver

from ..e2e.site import free_port
from ..processes import Processes, wait_for
from . import checks
from .members import Member, Story
from .servers import FlakySMTP, PostgresCluster, RedisServer
from .supervisor import Supervised, descendants

MEMBERS = int(os.environ.get("CHAOS_MEMBERS", "30"))
RESETS = 5
# Members arrive during the first 60 % of the load and faults strike until its end.
LOAD_SECONDS = float(os.environ.get("CHAOS_LOAD_SECONDS", "60"))
KILL_EVERY = (8, 12)
SMTP_OUTAGE_SECONDS = 10
# The mail server and the webhook receiver take this long over each message, as real ones
# do, so that a killed worker often has one in flight.
ANSWER_SECONDS = 1.0
# Production's dead-after (60 s, a heartbeat every sixth of it), scaled down: a process
# silent for 10 s is dead. Shorter than a database restart would make every live worker
# look dead.
DEAD_AFTER_SECONDS = 10
DELIVERY_TIMEOUT_SECONDS = 5
# A correct site settles within this. The slowest path back is the webhook sweep, run once
# a minute by the scheduler: it takes up an attempt cut off by a dead worker once it is
# WEBHOOKS_DELIVERY_TIMEOUT + WORKER_DEAD_AFTER_SECONDS old (then retries it 5 s later),
# and a due delivery whose task was lost once it is twice WORKER_DEAD_AFTER_SECONDS late
# (notifications/tasks.py). 20 s more for the workers.
SETTLE_SECONDS = float(
    os.environ.get("CHAOS_SETTLE_SECONDS")
    or max(DELIVERY_TIMEOUT_SECONDS + DEAD_AFTER_SECONDS + 5, 2 * DEAD_AFTER_SECONDS) + 60 + 20
)
PROCESS_TYPES = ["web", "general", "webhooks", "scheduler"]
WORKER_SIDE = ["general", "webhooks", "scheduler"]
SETTLE_CHECKS = {
    "mail": checks.lost_mail,
    "webhooks": checks.lost_deliveries,
    "tasks": checks.stuck_tasks,
}
OPEN = float("inf")  # The end of an outage still going on.


@dataclass
class Window:
    """When a server was down, in seconds from the start of the load."""

    what: str
    start: float
    end: float = OPEN

    def overlaps(self, start: float, end: float) -> bool:
        return start <= self.end and end >= self.start


class ChaosRun:
    def __init__(self, engine: str, seed: int, directory: Path):
        self.engine = engine
        self.seed = seed
        self.rng = random.Random(seed)
        # Victims come from a stream of their own: which processes are up when one is
        # chosen varies from run to run, and mustn't shift the rest of the schedule.
        self.victims = random.Random(f"{seed}-victims")
        self.directory = directory
        self.logs = directory / "logs"
        self.logs.mkdir()
        self.t0 = time.monotonic()
        self.timeline: list[str] = []
        self.windows: list[Window] = []
        self.kills: list[str] = []
        self.durations: dict[str, float] = {}
        self.settled_at: dict[str, float] = {}
        self.supervised: dict[str, Supervised] = {}
        self.postgres = self.redis = self.smtp = self.receiver = self.story = None

    def __enter__(self):
        try:
            return self.start()
        except BaseException:  # A skip included: nothing may be left running.
            self.__exit__()
            raise

    def start(self):
        # Both first: either may skip the test for want of its server.
        self.postgres = PostgresCluster()
        self.redis = RedisServer() if self.engine == "rq" else None
        self.postgres.start().create_database()
        if self.redis:
            self.redis.start()
        self.smtp = FlakySMTP(delay=ANSWER_SECONDS)
        self.receiver = Receiver(delay=ANSWER_SECONDS).__enter__()
        port = free_port()
        self.site_url = f"http://127.0.0.1:{port}"
        self.processes = Processes(
            self.directory,
            DATABASE_URL=self.postgres.url,
            TASKS_ENGINE=self.engine,
            **({"REDIS_URL": self.redis.url} if self.redis else {}),
            PORT=str(port),
            SITE_URL=self.site_url,
            WEB_CONCURRENCY="2",
            # One proxy in front: each member is a client of its own for the rate limits.
            TRUSTED_PROXY_COUNT="1",
            E2E_SMTP_PORT=str(self.smtp.port),
            WORKER_DEAD_AFTER_SECONDS=str(DEAD_AFTER_SECONDS),
            WEBHOOKS_DELIVERY_TIMEOUT=str(DELIVERY_TIMEOUT_SECONDS),
        )
        self.processes.release()
        for name in PROCESS_TYPES:
            log_path = self.logs / f"{name}.log"
            self.supervised[name] = Supervised(name, self.processes.env, log_path).start()
        wait_for(self.site_answers, timeout=60, message="the site to answer /healthz")
        for process_type in settings.WORKER_PROCESSES:
            wait_for(
                lambda process_type=process_type: not self.worker_health(process_type)[0],
                timeout=60,
                interval=1,
                message=f"worker_health {process_type} to pass before the load",
            )
        self.durations["start"] = time.monotonic() - self.t0
        return self

    def __exit__(self, *exc):
        for process in self.supervised.values():
            process.stop()
        if self.receiver:
            self.receiver.__exit__(None, None, None)
        if self.smtp:
            self.smtp.stop()
        if self.redis:
            self.redis.remove()
        if self.postgres:
            self.postgres.remove()

    def site_answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.site_url + "/healthz", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    def worker_health(self, process_type: str) -> tuple[int, str]:
        """`manage.py worker_health <type>`, run as an operator would on this host."""
        finished = subprocess.run(
            [sys.executable, "manage.py", "worker_health", process_type],
            cwd=settings.BASE_DIR,
            env=self.processes.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return finished.returncode, (finished.stdout + finished.stderr).strip()

    def now(self) -> float:
        """Seconds since the load began."""
        return time.monotonic() - self.t0

    def clock(self, seconds_ago) -> str:
        """A moment the database gave as seconds ago, as seconds since the load began."""
        return "-" if seconds_ago is None else f"{self.now() - float(seconds_ago):.1f} s"

    def note(self, text: str):
        self.timeline.append(f"{self.now():7.1f} s  {text}")

    # The load

    def load(self):
        """Members arrive over the first 60 % of LOAD_SECONDS and go as far as they can by
        its end, while the faults strike."""
        self.t0 = time.monotonic()
        self.story = Story(self.site_url, self.receiver.url, self.smtp, self.t0 + LOAD_SECONDS)
        resetting = self.rng.sample(range(1, MEMBERS + 1), min(RESETS, MEMBERS))
        arrivals = sorted(self.rng.uniform(0, 0.6 * LOAD_SECONDS) for _ in range(MEMBERS))
        members = [
            threading.Timer(
                arrival,
                Member(n, self.story, random.Random(f"{self.seed}-{n}"), n in resetting).live,
            )
            for n, arrival in enumerate(arrivals, start=1)
        ]
        for member in members:
            member.start()
        try:
            self.strike(self.fault_plan())
        finally:
            for member in members:
                member.cancel()  # Only those not arrived yet, if the faults failed.
                member.join(timeout=max(0, self.t0 + LOAD_SECONDS - time.monotonic()) + 35)
        self.durations["load"] = self.now()
        self.note("load over")

    def fault_plan(self) -> list[tuple[float, str, str]]:
        """When each fault strikes, in seconds from the start of the load: the same for
        the same seed. An outage is a server's stop, and its start on the same port."""
        plan = []

        def outage(server: str, share: tuple[float, float], seconds: float):
            at = self.rng.uniform(*share) * LOAD_SECONDS
            plan.extend([(at, "stop", server), (at + seconds, "start", server)])

        outage("SMTP", (0.15, 0.3), SMTP_OUTAGE_SECONDS)
        outage("PostgreSQL", (0.4, 0.55), self.rng.uniform(2, 4))
        if self.engine == "rq":
            outage("Redis", (0.65, 0.8), self.rng.uniform(2, 4))
        at = self.rng.uniform(*KILL_EVERY)
        while at < LOAD_SECONDS:
            plan.append((at, "kill", ""))
            at += self.rng.uniform(*KILL_EVERY)
        return sorted(plan)

    def strike(self, plan: list[tuple[float, str, str]]):
        servers = {"SMTP": self.smtp, "PostgreSQL": self.postgres, "Redis": self.redis}
        for at, action, server in plan:
            time.sleep(max(0.0, at - self.now()))
            if action == "kill":
                self.kill()
            elif action == "stop":
                self.windows.append(Window(server, self.now()))
                servers[server].stop()
                self.note(f"{server} down")
            else:
                servers[server].start()
                [window] = [w for w in self.windows if w.what == server and w.end == OPEN]
                window.end = self.now()
                self.note(f"{server} back, after {window.end - window.start:.1f} s")
        time.sleep(max(0.0, LOAD_SECONDS - self.now()))

    def kill(self):
        """SIGKILL a worker-side process, as the out-of-memory killer would: on RQ, half
        the time one of the processes it forked instead of the process itself."""
        name = self.victims.choice(WORKER_SIDE)
        pid, role = self.supervised[name].pid, name
        if pid is None:
            self.note(f"no {name} process to kill: it is restarting")
            return
        if self.engine == "rq" and self.victims.random() < 0.5 and (tree := descendants(pid)):
            pid, depth = self.victims.choice(sorted(tree))
            role = f"{name}'s {self.rq_role(pid, depth)}"
        with contextlib.suppress(ProcessLookupError):  # Gone already: no kill to count.
            os.kill(pid, signal.SIGKILL)
            self.kills.append(role)
            self.note(f"SIGKILL {role} (pid {pid})")

    def rq_role(self, pid: int, depth: int) -> str:
        """What a process under `runworker` is: RQ's pool workers are its children; their
        children are work horses (one per job) and RQ's scheduler, which says its pid in
        Redis."""
        if depth == 1:
            return "RQ pool worker"
        with contextlib.suppress(redis.RedisError), self.redis.connection() as connection:
            for key in connection.scan_iter("rq:scheduler:*"):
                if connection.hget(key, "pid") == str(pid).encode():
                    return "RQ scheduler"
        return "RQ work horse"

    # Settling

    def settle(self) -> list[str]:
        """Wait, at most SETTLE_SECONDS, for every check to pass; return the problems found
        then, each a sentence, together with the server errors outside a database outage."""
        started = time.monotonic()
        waiting = {}
        while True:
            elapsed = time.monotonic() - started
            problems = []
            for name, check in SETTLE_CHECKS.items():
                found = self.attempt(check)
                if len(found) != waiting.get(name):
                    # What each check waits for, whenever that changes: the timeline then
                    # shows which mechanism the settling waited on.
                    first = f", first: {found[0]}" if found else ""
                    self.note(f"{name}: {len(found)} to settle{first}")
                    waiting[name] = len(found)
                if found:
                    self.settled_at.pop(name, None)
                    problems.extend(found)
                else:
                    self.settled_at.setdefault(name, elapsed)
            if not problems and not (problems := checks.unhealthy(self)):
                self.settled_at["health"] = elapsed
                break
            if elapsed > SETTLE_SECONDS:
                problems.insert(0, f"Not settled {SETTLE_SECONDS:.0f} s after the load:")
                break
            time.sleep(2)
        self.durations["settle"] = time.monotonic() - started
        settled = ", ".join(f"{name} at {at:.0f} s" for name, at in self.settled_at.items())
        self.note(f"settled: {settled or 'nothing'}")
        return problems + checks.server_errors(self) + checks.refused_members(self)

    def attempt(self, check) -> list[str]:
        try:
            return check(self)
        except Exception as error:  # A server not back yet is one more thing to wait for.
            return [f"{check.__name__} could not look: {type(error).__name__}: {error}"]

    # Reporting

    def summary_line(self) -> str:
        try:
            counts = " ".join(f"{name}={value}" for name, value in checks.counts(self).items())
        except Exception as error:  # The line still says how far the run got.
            counts = f"(no counts: {type(error).__name__}: {error})"
        durations = " ".join(f"{name}={seconds:.0f}s" for name, seconds in self.durations.items())
        return f"chaos {self.engine} seed={self.seed}: {counts} {durations}{self.settling()}"

    def settling(self) -> str:
        if "settle" not in self.durations:
            return ""
        if unsettled := [
            name for name in [*SETTLE_CHECKS, "health"] if name not in self.settled_at
        ]:
            return f" (never settled: {', '.join(unsettled)})"
        return f" (slowest to settle: {max(self.settled_at, key=self.settled_at.get)})"

    def keep_logs(self, destination: Path, problems: list[str]):
        """Copy every process's and server's log, and a summary, where they outlive the run."""
        shutil.rmtree(destination, ignore_errors=True)
        shutil.copytree(self.logs, destination)
        for server in (self.postgres, self.redis):
            if server and server.log_path.exists():
                shutil.copy(server.log_path, destination)
        requests = [
            f"{e.started - self.t0:7.1f}-{e.ended - self.t0:.1f} s  {e.member} {e.method} "
            f"{e.path[:60]} {e.status or e.error}"
            for e in (self.story.exchanges if self.story else [])
        ]
        sections = {
            "summary": [self.summary_line()],
            "problems": problems,
            "timeline": self.timeline,
            "kills": self.kills,
            "members": self.story.notes if self.story else [],
            "requests": requests,
        }
        (destination / "summary.txt").write_text(
            "\n\n".join(f"# {title}\n" + "\n".join(lines) for title, lines in sections.items())
            + "\n"
        )
