"""One worker process against its peers, side by side in one run (issue 23's table).

    python -m bench.throughput          the whole table
    python -m bench.throughput quick    this template's worker only (while changing it)

Each figure drains DRAIN_TASKS no-op tasks enqueued beforehand, ROUNDS times, and reports
the median (min-max). Start latency trickles LATENCY_TASKS tasks to an idle worker.
PostgreSQL from DATABASE_URL (a scratch database), Redis from BENCH_REDIS_URL. Celery is
installed into a throwaway virtualenv (bench/peer_celery.py), never into the project's.
"""

import json
import statistics
import sys
import tempfile
import time

from bench import scratch
from bench.__main__ import Scratch, p50_p95
from bench.report import print_table

DRAIN_TASKS = 5000
LATENCY_TASKS = 100
ROUNDS = 3


def spread(samples) -> str:
    return f"{statistics.median(samples):,.0f} ({min(samples):,.0f}-{max(samples):,.0f})"


def drain(site, command: list[str], processes: int = 1, env=None) -> float:
    """Tasks per second while `processes` copies of `command` drain DRAIN_TASKS no-ops."""
    env = env or {}
    ids = site.tmp / "ids.json"
    ids.write_text(json.dumps(site.measure("fill", str(DRAIN_TASKS), env=env)))
    running = [
        scratch.spawn(command, env={**site.env, **env}, log=site.tmp / f"drain-{n}.log")
        for n in range(processes)
    ]
    for process in running:
        process.wait()
    return DRAIN_TASKS / site.measure("timings", str(ids), env=env)["span"]


def start_latencies(site, command: list[str], env=None) -> list[float]:
    """Seconds from enqueue to start, tasks enqueued one by one to an idle worker."""
    env = env or {}
    worker = scratch.spawn(command, env={**site.env, **env}, log=site.tmp / "latency.log")
    try:
        time.sleep(3)  # Let it start and go idle.
        ids = site.tmp / "ids.json"
        ids.write_text(json.dumps(site.measure("trickle", str(LATENCY_TASKS), env=env)))
        time.sleep(1)
    finally:
        scratch.stop(worker)
    return site.measure("timings", str(ids), env=env)["waits"]


RUNWORKER = ["python", "manage.py", "runworker", "general", "--batch"]
RUNWORKER_IDLE = ["python", "manage.py", "runworker", "general"]
DB_WORKER = ["python", "manage.py", "db_worker", "--queue-name", "default", "--batch"]


def rows(quick: bool = False):
    found = []
    with tempfile.TemporaryDirectory() as tmp:
        site = Scratch(tmp)
        try:
            ours = [drain(site, RUNWORKER) for _ in range(ROUNDS)]
            found.append(("runworker, 1 process, no-op tasks/s", spread(ours), ""))
            waits = start_latencies(site, RUNWORKER_IDLE)
            found.append(("runworker, enqueue to start, p50 / p95", p50_p95(waits), ""))
            if quick:
                return found
            theirs = [drain(site, DB_WORKER) for _ in range(ROUNDS)]
            found.append(("db_worker, 1 process, no-op tasks/s", spread(theirs), ""))
        finally:
            site.drop()
    return found


if __name__ == "__main__":
    print_table(rows(quick="quick" in sys.argv[1:]))
