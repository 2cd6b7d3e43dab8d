"""`make bench`: the numbers behind the docs' claims, both task engines side by side.

1. The signup request through gunicorn when the mail server takes 2 s per message:
   ImmediateBackend (the task runs inside the request) against each engine.
2. The cost of `.enqueue()`: the database engine on PostgreSQL and SQLite, and RQ.
3. `rebuild_search_index` on 10,000 and 100,000 members: time and peak memory.
4. Rows from the other benchmark modules: bench/throughput.py (the worker against its
   peers: tasks per second and enqueue to start), bench/webhooks.py, bench/deadline.py,
   bench/web.py, bench/operator.py.

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

import psycopg
import redis

from bench import scratch
from bench.report import ms, p50_p95, percentile, print_table
from bench.scratch import REDIS_URL, Scratch, empty_redis
from peers.smtp import SMTPServer

REQUESTS = 50
ENGINES = {"database": {}, "rq": {"TASKS_ENGINE": "rq", "REDIS_URL": REDIS_URL}}
OTHER_MODULES = [
    "bench.throughput",
    "bench.webhooks",
    "bench.deadline",
    "bench.web",
    "bench.operator",
]


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
            print("1/4 signup through gunicorn, mail server taking 2 s per message...", flush=True)
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

            print("2/4 the cost of .enqueue()...", flush=True)
            for label, site, env in (
                ("database engine, PostgreSQL", postgres, {}),
                ("database engine, SQLite", sqlite, {}),
                ("RQ engine", postgres, ENGINES["rq"]),
            ):
                samples = site.measure("enqueue", "1000", env=env)[50:]  # Drop the warm-up.
                target = "<= 1 ms" if "database" in label else "measured"
                rows.append((f".enqueue() p50, {label}", ms(percentile(samples, 0.5)), target))
            empty_redis()

            print("3/4 rebuilding the search index...", flush=True)
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

    print("4/4 the other benchmark modules...", flush=True)
    rows += other_rows()

    print(f"\nMachine: {machine()}\n")
    print_table(rows)


if __name__ == "__main__":
    main()
