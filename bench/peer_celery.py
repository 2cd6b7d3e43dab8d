"""Celery, the peer bench/throughput.py runs beside this template's worker: a no-op task on
Redis, in a throwaway virtualenv of its own (never the project's).

    python bench/peer_celery.py fill N      enqueue N no-op tasks
    celery -A peer_celery worker ...        run them (bench/throughput.py says how)

BENCH_CELERY_BROKER names the Redis database; BENCH_CELERY_RESULTS, when set, stores each
task's result there too, as django.tasks always stores one.
"""

import os
import sys

from celery import Celery

broker = os.environ["BENCH_CELERY_BROKER"]
results = os.environ.get("BENCH_CELERY_RESULTS")
app = Celery("peer_celery", broker=broker, backend=results or None)
app.conf.update(task_ignore_result=not results, worker_hijack_root_logger=False)


@app.task(name="noop")
def noop():
    """Does nothing, as bench/tasks.py's noop."""


if __name__ == "__main__" and sys.argv[1] == "fill":
    with app.producer_or_acquire() as producer:
        for _ in range(int(sys.argv[2])):
            noop.apply_async(producer=producer)
