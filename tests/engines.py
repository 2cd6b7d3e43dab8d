"""The RQ engine for tests: a Redis database of its own, and a worker run in-process.

Tests use REDIS_URL's server (default 127.0.0.1:6379) in database TEST_REDIS_DB (default
15), which they empty before and after, so they never touch a site's queues in database
0. Without a Redis server they skip, except in CI (`.ci/run` starts one).
"""

import os

import django_rq
import pytest
import redis
from django_tasks_rq import Job
from rq import SimpleWorker

from config.settings.base import rq_queues, tasks_backend

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_or_skip(url: str = REDIS_URL) -> redis.Redis:
    connection = redis.Redis.from_url(url)
    try:
        connection.ping()
    except redis.RedisError as error:
        message = f"No Redis at {url} ({error}): start redis-server, or set TEST_REDIS_URL."
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return connection


def use_rq(settings, redis_url=REDIS_URL):
    """Point TASKS at the RQ backend on the test Redis database (or on `redis_url`)."""
    settings.TASKS = tasks_backend("django_tasks_rq.RQBackend")
    settings.RQ_QUEUES = rq_queues(redis_url)


def run_rq_worker(queues):
    """Run every ready job on `queues`, in this process (no fork), then return."""
    SimpleWorker(
        [django_rq.get_queue(name, job_class=Job) for name in queues],
        connection=django_rq.get_connection(queues[0]),
        job_class=Job,
    ).work(burst=True, with_scheduler=True, logging_level="WARNING")


def make_scheduled_jobs_due(queues):
    """Move every job waiting for its run_after onto its queue, as if the time had come."""
    for name in queues:
        queue = django_rq.get_queue(name, job_class=Job)
        for job_id in queue.scheduled_job_registry.get_job_ids():
            queue.scheduled_job_registry.remove(job_id)
            queue.enqueue_job(Job.fetch(job_id, connection=queue.connection))
