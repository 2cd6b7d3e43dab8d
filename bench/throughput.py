"""One worker process against its peers, side by side in one run.

    python -m bench.throughput          every row (run by `make bench`)
    python -m bench.throughput quick    this template's worker only, while changing it

A rate drains DRAIN_TASKS no-op tasks enqueued beforehand, ROUNDS times: the median
(min-max). Enqueue to start trickles LATENCY_TASKS tasks to an idle worker. PostgreSQL from
DATABASE_URL (a scratch database), Redis from BENCH_REDIS_URL (Celery's broker in database
13 of the same server; both emptied). Celery is installed into a throwaway virtualenv made
here (bench/peer_celery.py), never into the project's.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import redis

from bench import scratch
from bench.report import p50_p95, print_table
from bench.scratch import REDIS_URL, Scratch, empty_redis
from peers.smtp import SMTPServer

DRAIN_TASKS = 5000
LATENCY_TASKS = 100
ROUNDS = 3
HISTORY = 1_000_000
MAILS = 1000
CELERY = "celery[redis]==5.7.0"
CELERY_REDIS_URL = REDIS_URL.rpartition("/")[0] + "/13"

RUNWORKER = ["python", "manage.py", "runworker", "general", "--batch"]
DB_WORKER = ["python", "manage.py", "db_worker", "--queue-name", "default", "--batch"]
RQ_ONE_PROCESS = {"TASKS_ENGINE": "rq", "REDIS_URL": REDIS_URL, "RQ_MAX_PROCESSES_PER_WORKER": "1"}


def spread(rates) -> str:
    return f"{statistics.median(rates):,.0f}/s ({min(rates):,.0f}-{max(rates):,.0f})"


def drain(site, command, processes=1, env=None, fill=("fill", str(DRAIN_TASKS))) -> float:
    """Tasks per second while `processes` copies of `command` drain what `fill` enqueues."""
    env = env or {}
    ids = site.tmp / "ids.json"
    ids.write_text(site.run("-m", "bench.engine", *fill, env=env))
    count = len(json.loads(ids.read_text()))
    running = [
        scratch.spawn(command, env={**site.env, **env}, log=site.tmp / f"drain-{n}.log")
        for n in range(processes)
    ]
    for process in running:
        process.wait()
    return count / site.measure("timings", str(ids), env=env)["span"]


def rounds(site, command, **kwargs) -> list[float]:
    rates = []
    for _ in range(ROUNDS):
        rates.append(drain(site, command, **kwargs))
        if kwargs.get("env", {}).get("TASKS_ENGINE") == "rq":
            empty_redis()
    return rates


def start_latencies(site, env=None) -> list[float]:
    """Seconds from enqueue to start, tasks enqueued one by one to an idle runworker."""
    env = env or {}
    worker = site.start("general", env=env, log="latency")
    try:
        time.sleep(3)  # Let it start and go idle.
        ids = site.tmp / "ids.json"
        ids.write_text(json.dumps(site.measure("trickle", str(LATENCY_TASKS), env=env)))
        time.sleep(1)
    finally:
        scratch.stop(worker)
    return site.measure("timings", str(ids), env=env)["waits"]


def add_history(site, count: int):
    """`count` finished results, as a site that keeps a week of them has."""
    with psycopg.connect(site.database.url, autocommit=True) as db:
        db.execute(
            """
            INSERT INTO django_tasks_database_dbtaskresult
                (id, status, args_kwargs, priority, task_path, queue_name, backend_name,
                 run_after, enqueued_at, started_at, finished_at, return_value,
                 exception_class_path, traceback, worker_ids)
            SELECT gen_random_uuid(), 'SUCCESSFUL', '{"args": [], "kwargs": {}}', 0,
                'bench.tasks.noop', 'default', 'default', '9999-01-01', now(), now(), now(),
                'null', '', '', '["bench"]'
            FROM generate_series(1, %s)
            """,
            [count],
        )
        db.execute("VACUUM ANALYZE django_tasks_database_dbtaskresult")


def celery_environment(tmp: Path) -> Path:
    """A virtualenv with Celery in it; its python."""
    venv = tmp / "celery-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [venv / "bin" / "pip", "install", "--quiet", CELERY], check=True, capture_output=True
    )
    # On its own path: bench/'s modules would shadow the standard library's.
    (venv / "app").mkdir()
    shutil.copy(scratch.ROOT / "bench" / "peer_celery.py", venv / "app")
    return venv / "bin" / "python"


def celery_drain(python: Path, pool: list[str], results: bool, tmp: Path) -> float:
    """Tasks per second while one Celery worker drains DRAIN_TASKS no-ops from Redis."""
    store = redis.Redis.from_url(CELERY_REDIS_URL)
    store.flushdb()
    env = {
        **os.environ,
        "BENCH_CELERY_BROKER": CELERY_REDIS_URL,
        "PYTHONPATH": str(python.parent.parent / "app"),
    }
    if results:
        env["BENCH_CELERY_RESULTS"] = CELERY_REDIS_URL
    subprocess.run([python, "-m", "peer_celery", "fill", str(DRAIN_TASKS)], env=env, check=True)
    command = [python, "-m", "celery", "-A", "peer_celery", "worker", *pool, "-l", "WARNING",
               "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
    worker = scratch.spawn(command, env=env, log=tmp / "celery.log")
    try:
        # Started when the first message leaves the queue; done when none is queued or
        # taken but not yet acknowledged (Celery acknowledges a task as it starts it).
        while store.llen("celery") == DRAIN_TASKS:
            time.sleep(0.001)
        started = time.perf_counter()
        while store.llen("celery") or store.hlen("unacked"):
            time.sleep(0.002)
        return DRAIN_TASKS / (time.perf_counter() - started)
    finally:
        scratch.stop(worker)
        store.flushdb()


def our_rows(site) -> list:
    found = []
    ours = rounds(site, RUNWORKER)
    found.append(
        ("runworker general, 1 process (8 threads, as shipped), no-op tasks/s", spread(ours),
         ">= 1,000/s")
    )  # fmt: skip
    narrow = rounds(site, RUNWORKER, env={"BENCH_GENERAL_THREADS": "3"})
    found.append(("runworker general, 1 process, 3 threads, no-op tasks/s", spread(narrow), ""))
    two = rounds(site, RUNWORKER, processes=2)
    ratio = statistics.median(two) / statistics.median(ours)
    found.append(
        ("runworker general, 2 processes, no-op tasks/s", spread(two), f"{ratio:.2f}x one")
    )
    waits = start_latencies(site)
    found.append(
        ("runworker, enqueue to start, idle worker, p50 / p95", p50_p95(waits), "<= 5 / <= 20 ms")
    )
    return found, ours, waits


def rows(quick: bool = False) -> list:
    found = []
    with tempfile.TemporaryDirectory() as tmp:
        site = Scratch(tmp)
        try:
            print("   this template's worker...", flush=True)
            mine, ours, waits = our_rows(site)
            found += mine
            if quick:
                return found
            print("   django-tasks-db's db_worker...", flush=True)
            theirs = rounds(site, DB_WORKER)
            ratio = statistics.median(ours) / statistics.median(theirs)
            found.append(("db_worker, 1 process, no-op tasks/s", spread(theirs), ""))
            found.append(("runworker / db_worker, 1 process", f"{ratio:.1f}x", ">= 2x"))
            default = {"CONN_MAX_AGE": "0", "CONN_HEALTH_CHECKS": "0"}
            unshipped = rounds(site, RUNWORKER, env=default)
            found.append(
                ("runworker, 1 process, Django's default connections", spread(unshipped), "")
            )

            print(f"   with {HISTORY:,} finished results stored...", flush=True)
            add_history(site, HISTORY)
            full = rounds(site, RUNWORKER)
            change = statistics.median(full) / statistics.median(ours) - 1
            found.append(
                (
                    f"runworker, 1 process, {HISTORY:,} results stored",
                    spread(full),
                    f"{change:+.0%} (within 10 %)",
                )
            )
            full_waits = start_latencies(site)
            found.append(
                (
                    f"runworker, enqueue to start, {HISTORY:,} results stored",
                    p50_p95(full_waits),
                    "",
                )
            )

            print("   confirmation emails to a local SMTP server...", flush=True)
            site.run("-m", "bench.members", str(MAILS))
            with SMTPServer() as mail:
                env = {"E2E_SMTP_PORT": str(mail.port)}
                sent = [
                    drain(site, RUNWORKER, env=env, fill=("mail", str(MAILS)))
                    for _ in range(ROUNDS)
                ]
            found.append(("runworker, 1 process, confirmation emails/s", spread(sent), "measured"))

            print("   RQ, forking and not...", flush=True)
            empty_redis()
            for fork in ("true", "false"):
                env = {**RQ_ONE_PROCESS, "RQ_FORK_PER_JOB": fork}
                rates = rounds(site, RUNWORKER, env=env)
                label = "a fork per job" if fork == "true" else "RQ_FORK_PER_JOB=false"
                found.append(
                    (
                        f"RQ engine, 1 worker process, {label}, no-op tasks/s",
                        spread(rates),
                        "measured",
                    )
                )
        finally:
            site.drop()
            empty_redis()

        print("   Celery...", flush=True)
        try:
            python = celery_environment(Path(tmp))
        except subprocess.CalledProcessError as error:
            return [*found, ("Celery", f"not measured: {error.stderr or error}", "")]
        for label, pool in (("prefork, 1 process", ["-P", "prefork", "-c", "1"]),
                            ("threads pool of 4", ["-P", "threads", "-c", "4"])):  # fmt: skip
            for results in (False, True):
                rates = [celery_drain(python, pool, results, Path(tmp)) for _ in range(ROUNDS)]
                stored = "results in Redis" if results else "no result stored"
                found.append(
                    (f"Celery 5.7 + Redis, {label}, {stored}, no-op tasks/s", spread(rates), "")
                )
    return found


if __name__ == "__main__":
    print_table(rows(quick="quick" in sys.argv[1:]))
