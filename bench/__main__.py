"""`make bench`: the numbers behind the docs' claims, both task engines side by side.

1. The signup request through gunicorn when the mail server takes 2 s per message:
   ImmediateBackend (the task runs inside the request) against each engine.
2. The cost of `.enqueue()`: the database engine on PostgreSQL and SQLite, and RQ.
3. No-op tasks per second, 1 and 2 worker processes (`manage.py runworker general`);
   on the database engine also with Django's default connection settings.
4. Enqueue-to-start latency, one task at a time to an idle worker.
5. `rebuild_search_index` on 10,000 and 100,000 members: time and peak memory.
6. Rows from the other benchmark modules: bench/webhooks.py, bench/deadline.py, bench/web.py,
   bench/operator.py.

PostgreSQL comes from DATABASE_URL (a scratch database is created and dropped on that
server); Redis from BENCH_REDIS_URL (default database 14 on 127.0.0.1, emptied before
and after). Everything runs as separate processes through the project's own commands
and modules. Nothing in `make test` depends on these timings.
"""

import importlib
import json
import os
import platform
import random
import re
import secrets
import statistics
import tempfile
import time
import traceback
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import psycopg
import redis

from bench import scratch
from bench.report import percentile, print_table
from peers.smtp import SMTPServer

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
REQUESTS = 50
THROUGHPUT_TASKS = 1000
LATENCY_TASKS = 100
ENGINES = {"database": {}, "rq": {"TASKS_ENGINE": "rq", "REDIS_URL": REDIS_URL}}
OTHER_MODULES = ["bench.webhooks", "bench.deadline", "bench.web", "bench.operator"]


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def p50_p95(samples):
    return f"{ms(percentile(samples, 0.5))} / {ms(percentile(samples, 0.95))}"


class Scratch:
    """A migrated throwaway database (PostgreSQL, or a SQLite file), and ways to run the
    Procfile's processes and the bench's measuring modules against it."""

    def __init__(self, tmp, kind="postgres"):
        self.tmp = Path(tmp)
        if kind == "postgres":
            self.database = scratch.ScratchDatabase()
            url = self.database.url
        else:
            self.database = None
            url = f"sqlite:///{self.tmp / secrets.token_hex(4)}.sqlite3"
        self.env = scratch.environment(url, str(tmp))
        scratch.python("manage.py", "migrate", "--noinput", "-v0", env=self.env)

    def run(self, *args, env=None) -> str:
        return scratch.python(*args, env={**self.env, **(env or {})})

    def measure(self, *args, env=None):
        return json.loads(self.run("-m", "bench.engine", *args, env=env))

    def start(self, process_type, *extra, env=None, log="process"):
        return scratch.start(
            process_type, *extra, env={**self.env, **(env or {})}, log=self.tmp / f"{log}.log"
        )

    def drop(self):
        if self.database:
            self.database.drop()


def empty_redis():
    redis.Redis.from_url(REDIS_URL).flushdb()


def signup_latencies(site, env, smtp_port):
    """POST /accounts/signup/ through gunicorn, REQUESTS times; seconds per request."""
    web, port = scratch.start_web(
        env={**site.env, **env, "E2E_SMTP_PORT": str(smtp_port), "WEB_CONCURRENCY": "2"},
        log=site.tmp / f"gunicorn-{secrets.token_hex(2)}.log",
    )
    try:
        base = f"http://127.0.0.1:{port}"
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        samples = []
        for n in range(REQUESTS + 3):
            page = opener.open(base + "/accounts/signup/").read().decode()
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
            form = urllib.parse.urlencode(
                {
                    "csrfmiddlewaretoken": token,
                    "email": f"s{n}-{secrets.token_hex(3)}@example.com",
                    "password1": "a-long-enough-passphrase",
                    "password2": "a-long-enough-passphrase",
                }
            ).encode()
            address = {"X-Forwarded-For": f"10.0.{n // 250}.{n % 250 + 1}"}
            started = time.perf_counter()
            opener.open(urllib.request.Request(base + "/accounts/signup/", form, address)).read()
            if n >= 3:  # The first requests warm up imports and connections.
                samples.append(time.perf_counter() - started)
        return samples
    finally:
        scratch.stop(web)


def drain_rate(site, workers, env):
    """Tasks per second while `workers` processes drain THROUGHPUT_TASKS no-op tasks."""
    ids = site.tmp / "ids.json"
    ids.write_text(json.dumps(site.measure("fill", str(THROUGHPUT_TASKS), env=env)))
    processes = [site.start("general", "--batch", env=env) for _ in range(workers)]
    for process in processes:
        process.wait()
    span = site.measure("timings", str(ids), env=env)["span"]
    return THROUGHPUT_TASKS / span


def start_latencies(site, env):
    """Seconds from enqueue to start, for tasks enqueued one by one to an idle worker."""
    worker = site.start("general", env=env)
    try:
        time.sleep(3)  # Let it start and go idle.
        ids = site.tmp / "ids.json"
        ids.write_text(json.dumps(site.measure("trickle", str(LATENCY_TASKS), env=env)))
        time.sleep(1)
    finally:
        scratch.stop(worker)
    return site.measure("timings", str(ids), env=env)["waits"]


def rebuild_index(site, members):
    """Seconds and peak resident memory (MiB) of rebuild_search_index over `members` members."""
    site.run("-m", "bench.members", str(members))
    command = ["python", "manage.py", "rebuild_search_index", "-v0"]
    return json.loads(site.run("-m", "bench.peak", *command))


def other_rows():
    rows = []
    for name in OTHER_MODULES:
        print(f"   {name}...", flush=True)
        try:
            rows += importlib.import_module(name).rows()
        except Exception:
            # One module's failure must not cost the table of everything measured before it.
            traceback.print_exc()
            rows.append((f"{name}", "failed: see the traceback above", ""))
    return rows


def machine():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with psycopg.connect(scratch.SERVER_URL) as db:
        server = db.execute("SHOW server_version").fetchone()[0]
    redis_version = redis.Redis.from_url(REDIS_URL).info()["redis_version"]
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, PostgreSQL {server}, Redis {redis_version}"
    )


def main():
    random.seed(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        postgres = Scratch(tmp)
        sqlite = Scratch(tmp, kind="sqlite")
        empty_redis()
        try:
            print("1/6 signup through gunicorn, mail server taking 2 s per message...", flush=True)
            signups = {}
            with SMTPServer(delay=2) as slow_mail:
                for engine, env in ENGINES.items():
                    signups[engine] = signup_latencies(postgres, env, slow_mail.port)
                immediate = signup_latencies(
                    postgres, {"BENCH_BACKEND": "immediate"}, slow_mail.port
                )
            rows.append(("Signup, ImmediateBackend, p50 / p95", p50_p95(immediate), ""))
            for engine, samples in signups.items():
                target = "p50 <= 30 ms" if engine == "database" else "measured"
                rows.append((f"Signup, {engine} engine, p50 / p95", p50_p95(samples), target))
            speedup = statistics.median(immediate) / statistics.median(signups["database"])
            rows.append(
                ("Signup, Immediate p50 / database engine p50", f"{speedup:.0f}x", ">= 60x")
            )

            print("2/6 the cost of .enqueue()...", flush=True)
            for label, site, env in (
                ("database engine, PostgreSQL", postgres, {}),
                ("database engine, SQLite", sqlite, {}),
                ("RQ engine", postgres, ENGINES["rq"]),
            ):
                samples = site.measure("enqueue", "1000", env=env)[50:]  # Drop the warm-up.
                target = "<= 1 ms" if "database" in label else "measured"
                rows.append((f".enqueue() p50, {label}", ms(percentile(samples, 0.5)), target))
            empty_redis()

            print("3/6 worker throughput...", flush=True)
            default = {"CONN_MAX_AGE": "0", "CONN_HEALTH_CHECKS": "0"}
            rates = {}
            for engine, env in ENGINES.items():
                for workers in (1, 2):
                    rates[engine, workers] = drain_rate(postgres, workers, env)
                    target = ">= 250/s" if (engine, workers) == ("database", 1) else "measured"
                    rows.append(
                        (f"No-op tasks/s, {engine} engine, {workers} worker process(es)",
                         f"{rates[engine, workers]:.0f}/s", target)
                    )  # fmt: skip
            unshipped = drain_rate(postgres, 1, default)
            rows.append(
                ("No-op tasks/s, database engine, 1 worker, Django default connections",
                 f"{unshipped:.0f}/s", "")
            )  # fmt: skip
            ratio = rates["database", 1] / unshipped
            rows.append(("Shipped / default connections, 1 worker", f"{ratio:.1f}x", ">= 3x"))
            empty_redis()

            print("4/6 enqueue-to-start latency...", flush=True)
            for engine, env in ENGINES.items():
                waits = start_latencies(postgres, env)
                target = "p50 <= 150 ms" if engine == "database" else "measured"
                rows.append(
                    (f"Enqueue to start, {engine} engine, p50 / p95", p50_p95(waits), target)
                )
            empty_redis()

            print("5/6 rebuilding the search index...", flush=True)
            for members in (10_000, 100_000):
                seconds, peak = rebuild_index(postgres, members)
                rows.append(
                    (f"rebuild_search_index, {members:,} members",
                     f"{seconds:.1f} s, peak {peak:.0f} MiB",
                     "memory flat" if members == 100_000 else "")
                )  # fmt: skip
        finally:
            postgres.drop()
            sqlite.drop()
            empty_redis()

    print("6/6 the other benchmark modules...", flush=True)
    rows += other_rows()

    print(f"\nMachine: {machine()}\n")
    print_table(rows)


if __name__ == "__main__":
    main()
