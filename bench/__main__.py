"""`make bench`: the numbers behind the README's claims, side by side in one run.

1. The signup request through gunicorn when the mail server takes 2 s per message:
   ImmediateBackend (the task runs inside the request) against DatabaseBackend.
2. The cost of `.enqueue()` on PostgreSQL and SQLite.
3. Worker throughput with no-op tasks: Django's default connection settings against the
   shipped ones, with 1 and 2 worker processes.
4. Enqueue-to-start latency with the shipped worker settings.
5. `rebuild_search_index` on 10,000 and 100,000 members: time and peak memory.

PostgreSQL comes from DATABASE_URL (a scratch database is created and dropped on that
server). Nothing in `make test` depends on these timings.
"""

import json
import os
import platform
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.processes import TemporaryDatabase  # noqa: E402
from tests.smtp import SMTPServer  # noqa: E402

SERVER_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
QUEUES = "default,email,webhooks,search"
REQUESTS = 50
THROUGHPUT_TASKS = 1000
THROUGHPUT_RUNS = 3
LATENCY_TASKS = 100


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


class Scratch:
    """A migrated throwaway database, and ways to run the site's code against it."""

    def __init__(self, tmp, kind="postgres"):
        self.database = TemporaryDatabase(Path(tmp), SERVER_URL if kind == "postgres" else None)
        self.url = self.database.url
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": self.url,
            "E2E_MAIL_DIR": str(tmp),
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        }
        self.manage("migrate", "--noinput", "-v0")

    def manage(self, *args, env=None, **kwargs):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            check=True,
            **kwargs,
        )

    def python(self, *args) -> str:
        """Run Python with this database's settings; return what it prints."""
        return subprocess.run(
            [sys.executable, *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def sql(self, query):
        with psycopg.connect(self.url) as db:
            cursor = db.execute(query)
            return cursor.fetchall() if cursor.description else []

    def drop(self):
        self.database.drop()


def signup_latencies(scratch, backend, smtp_port):
    """POST /accounts/signup/ through gunicorn, REQUESTS times; seconds per request."""
    port = free_port()
    env = {
        **scratch.env,
        "BENCH_BACKEND": backend,
        "E2E_SMTP_PORT": str(smtp_port),
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
    }
    web = subprocess.Popen(
        ["gunicorn", "config.wsgi", "--config", "config/gunicorn.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        samples = []
        for n in range(REQUESTS + 3):
            page = opener.open(base + "/accounts/signup/").read().decode()
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
            form = urllib.parse.urlencode(
                {
                    "csrfmiddlewaretoken": token,
                    "email": f"{backend}{n}-{secrets.token_hex(3)}@example.com",
                    "password1": "a-long-enough-passphrase",
                    "password2": "a-long-enough-passphrase",
                }
            ).encode()
            started = time.perf_counter()
            opener.open(base + "/accounts/signup/", form).read()
            if n >= 3:  # The first requests warm up imports and connections.
                samples.append(time.perf_counter() - started)
        return samples
    finally:
        web.terminate()
        web.wait()


def enqueue_latencies(scratch, count=1000):
    output = scratch.python("-m", "bench.enqueue", str(count))
    return json.loads(output)[50:]  # Drop the warm-up.


def enqueue_noops(scratch, count):
    code = f"from bench.tasks import noop\nfor _ in range({count}): noop.enqueue()"
    scratch.manage("shell", "-c", code, stdout=subprocess.DEVNULL)


def throughput(scratch, workers, connection_env):
    """Median tasks per second over THROUGHPUT_RUNS runs of draining THROUGHPUT_TASKS."""
    return statistics.median(
        drain_rate(scratch, workers, connection_env) for _ in range(THROUGHPUT_RUNS)
    )


def drain_rate(scratch, workers, connection_env):
    """Tasks per second while `workers` processes drain THROUGHPUT_TASKS no-op tasks."""
    scratch.sql("DELETE FROM django_tasks_database_dbtaskresult")
    enqueue_noops(scratch, THROUGHPUT_TASKS)
    processes = [
        subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--queue-name", QUEUES, "--batch",
             "--no-startup-delay", "--no-reload", "--interval", "0.1", "-v0"],
            cwd=ROOT,
            env={**scratch.env, **connection_env},
            stdout=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]  # fmt: skip
    for process in processes:
        process.wait()
    [(done, seconds)] = scratch.sql(
        "SELECT count(*), extract(epoch FROM max(finished_at) - min(started_at))"
        " FROM django_tasks_database_dbtaskresult WHERE status = 'SUCCESSFUL'"
    )
    assert done == THROUGHPUT_TASKS, f"only {done} of {THROUGHPUT_TASKS} tasks ran"
    return done / float(seconds)


def start_latencies(scratch):
    """Seconds from enqueue to start, for tasks enqueued one by one to an idle worker."""
    scratch.sql("DELETE FROM django_tasks_database_dbtaskresult")
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--queue-name", QUEUES, "--no-reload",
         "--no-startup-delay", "--interval", "0.1", "-v0"],
        cwd=ROOT,
        env=scratch.env,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(3)  # Let it start and go idle.
        code = (
            "import random, time\nfrom bench.tasks import noop\n"
            f"for _ in range({LATENCY_TASKS}):\n"
            "    noop.enqueue()\n    time.sleep(random.uniform(0.15, 0.35))\n"
        )
        scratch.manage("shell", "-c", code, stdout=subprocess.DEVNULL)
        time.sleep(1)
    finally:
        worker.terminate()
        worker.wait()
    rows = scratch.sql(
        "SELECT extract(epoch FROM started_at - enqueued_at)"
        " FROM django_tasks_database_dbtaskresult WHERE started_at IS NOT NULL"
    )
    assert len(rows) == LATENCY_TASKS
    return [float(seconds) for (seconds,) in rows]


def rebuild_index(scratch, members):
    """Seconds and peak resident memory (MiB) of rebuild_search_index over `members` members."""
    setup = (
        "from accounts.models import Profile, User\n"
        "User.objects.all().delete()\n"
        "users = User.objects.bulk_create("
        f"[User(email=f'm{{n}}@example.com', password='!') for n in range({members})],"
        " batch_size=5000)\n"
        "Profile.objects.bulk_create([Profile(user=user, display_name=f'Member {user.pk}',"
        " headline='Engineer', bio='words ' * 30) for user in users], batch_size=5000)\n"
    )
    scratch.manage("shell", "-c", setup, stdout=subprocess.DEVNULL)
    # A fresh parent process, so the peak it reports is the command's alone.
    measure = (
        "import resource, subprocess, sys, time\n"
        "started = time.perf_counter()\n"
        "subprocess.run([sys.executable, 'manage.py', 'rebuild_search_index', '-v0'],"
        " check=True, stdout=subprocess.DEVNULL)\n"
        "print(time.perf_counter() - started,"
        " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n"
    )
    seconds, peak_mib = map(float, scratch.python("-c", measure).split())
    return seconds, peak_mib


def machine():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with psycopg.connect(SERVER_URL) as db:
        server = db.execute("SHOW server_version").fetchone()[0]
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, PostgreSQL {server}"
    )


def main():
    random.seed(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        postgres = Scratch(tmp)
        sqlite = Scratch(tmp, kind="sqlite")
        try:
            print("1/5 signup through gunicorn, mail server taking 2 s per message...", flush=True)
            with SMTPServer(delay=2) as slow_mail:
                database = signup_latencies(postgres, "database", slow_mail.port)
                immediate = signup_latencies(postgres, "immediate", slow_mail.port)
            speedup = statistics.median(immediate) / statistics.median(database)
            rows += [
                ("Signup, ImmediateBackend, p50 / p95",
                 f"{ms(percentile(immediate, .5))} / {ms(percentile(immediate, .95))}", ""),
                ("Signup, DatabaseBackend, p50 / p95",
                 f"{ms(percentile(database, .5))} / {ms(percentile(database, .95))}",
                 "p50 <= 30 ms"),
                ("Signup, Immediate p50 / Database p50", f"{speedup:.0f}x", ">= 60x"),
            ]  # fmt: skip

            print("2/5 the cost of .enqueue()...", flush=True)
            for name, scratch in (("PostgreSQL", postgres), ("SQLite", sqlite)):
                samples = enqueue_latencies(scratch)
                rows.append((f".enqueue() p50, {name}", ms(percentile(samples, 0.5)), "<= 1 ms"))

            print("3/5 worker throughput...", flush=True)
            default = {"CONN_MAX_AGE": "0", "CONN_HEALTH_CHECKS": "0"}
            shipped = {"CONN_MAX_AGE": "600", "CONN_HEALTH_CHECKS": "1"}
            results = {}
            for workers in (1, 2):
                for label, env in (("Django default connections", default), ("shipped", shipped)):
                    results[workers, label] = throughput(postgres, workers, env)
                    target = ">= 250/s" if (workers, label) == (1, "shipped") else ""
                    rows.append(
                        (f"No-op tasks/s, {workers} worker(s), {label}",
                         f"{results[workers, label]:.0f}/s", target)
                    )  # fmt: skip
            ratio = results[1, "shipped"] / results[1, "Django default connections"]
            rows.append(("Shipped / default, 1 worker", f"{ratio:.1f}x", ">= 3x"))

            print("4/5 enqueue-to-start latency...", flush=True)
            latencies = start_latencies(postgres)
            rows.append(
                ("Enqueue to start, p50 / p95",
                 f"{ms(percentile(latencies, .5))} / {ms(percentile(latencies, .95))}",
                 "p50 <= 150 ms")
            )  # fmt: skip

            print("5/5 rebuilding the search index...", flush=True)
            for members in (10_000, 100_000):
                seconds, peak = rebuild_index(postgres, members)
                rows.append(
                    (f"rebuild_search_index, {members:,} members",
                     f"{seconds:.1f} s, peak {peak:.0f} MiB",
                     "memory flat" if members == 100_000 else "")
                )  # fmt: skip
        finally:
            postgres.drop()

    print(f"\nMachine: {machine()}\n")
    width = max(len(row[0]) for row in rows)
    print(f"| {'measurement':<{width}} | result | target |")
    print(f"|{'-' * (width + 2)}|---|---|")
    for name, result, target in rows:
        print(f"| {name:<{width}} | {result} | {target} |")


if __name__ == "__main__":
    main()
