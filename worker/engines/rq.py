"""The RQ engine (django-tasks-rq): tasks are jobs in Redis, run by RQ workers.

What this module adds to RQ, and why:

- The job class is django-tasks-rq's `Job`, which runs a `django.tasks` task and sends
  the task signals; RQ's own would fail every task.
- Each worker runs RQ's scheduler too (one acts at a time, by RQ's own lock), so tasks
  enqueued with `run_after` (retries) come due.
- A worker that dies mid-task: RQ notices two ways. A killed work horse (the forked child
  that runs the job: out of memory, SIGKILL) is seen at once by its worker; a whole worker
  that vanishes leaves its job in the StartedJobRegistry, and another worker's
  maintenance finds it once the job's heartbeat expires. Either way RQ marks the job
  failed, and `rerun_after_worker_died` below enqueues it again if the task's policy says
  it is safe to run twice. The heartbeat and the maintenance follow the site's
  WORKER_HEARTBEAT_SECONDS and WORKER_DEAD_AFTER_SECONDS, so a dead worker's email goes
  out again within about twice WORKER_DEAD_AFTER_SECONDS, as on the database engine.
- Concurrency: RQ has no threaded worker. `threads` > 1 runs RQ's WorkerPool: that many
  worker processes, at most RQ_MAX_PROCESSES_PER_WORKER (each is a whole Django process),
  each forking a work horse per job.
"""

import logging
import math
import secrets
import socket
from datetime import timedelta

import django_rq
from django.conf import settings
from django.utils import timezone
from django_tasks_rq import Job
from redis.exceptions import RedisError
from rq import Worker as RQWorker
from rq.exceptions import AbandonedJobError, NoSuchJobError
from rq.worker_pool import WorkerPool

from worker import retries

logger = logging.getLogger(__name__)


def rerun_after_worker_died(job: Job) -> None:
    """Enqueue a task again whose worker died while running it, if its policy allows."""
    try:
        task = job.func
    except Exception:  # The job no longer names a task (renamed or removed code).
        logger.exception("event=task_lost id=%s", job.id)
        return
    rerun = retries.may_rerun_after_worker_died(task, job.id)
    if rerun:
        retries.enqueue_next(
            task, job.id, list(job.args), job.kwargs, reason=retries.WORKER_DIED_REASON
        )
    logger.warning(
        "event=task_recovered task=%s id=%s worker=%s rerun=%s",
        task.module_path,
        job.id,
        job.worker_name or "unknown",
        rerun,
    )


def abandoned_job_handler(job, exc_type, exc_value, traceback):
    # RQ calls its exception handlers for jobs that failed in the work horse too; those
    # are the retries' business (worker.retries). Only a vanished worker's job is ours.
    if exc_type is AbandonedJobError:
        rerun_after_worker_died(job)
    return True  # Let RQ's default handler record the failure as usual.


def work_horse_killed_handler(job, retpid, ret_val, rusage):
    rerun_after_worker_died(job)


class Worker(RQWorker):
    """RQ's worker, with the site's heartbeat and dead-worker timings."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("job_class", Job)
        # RQ counts these in whole seconds (signal.alarm).
        dead_after = math.ceil(settings.WORKER_DEAD_AFTER_SECONDS)
        kwargs.setdefault("job_monitoring_interval", math.ceil(settings.WORKER_HEARTBEAT_SECONDS))
        kwargs.setdefault("maintenance_interval", dead_after)
        # An idle worker blocks waiting for a job for worker_ttl - 15 s, and looks for
        # abandoned jobs only between waits: wake it as often as maintenance is due.
        kwargs.setdefault("worker_ttl", dead_after + 15)
        kwargs.setdefault("work_horse_killed_handler", work_horse_killed_handler)
        super().__init__(*args, **kwargs)

    def get_heartbeat_ttl(self, job, working_time=0.0) -> int:
        # RQ's default adds a fixed minute; a job is abandoned once its worker has been
        # silent for WORKER_DEAD_AFTER_SECONDS.
        ttl = super().get_heartbeat_ttl(job, working_time) - 60
        return ttl + math.ceil(settings.WORKER_DEAD_AFTER_SECONDS)


def run_worker(*, queues: list[str], threads: int, worker_id: str, batch: bool = False) -> None:
    """Serve `queues` in order until SIGTERM; with `batch`, until they are empty."""
    connection = django_rq.get_connection(queues[0])
    handlers = [abandoned_job_handler]
    processes = min(threads, settings.RQ_MAX_PROCESSES_PER_WORKER)
    if processes > 1:
        pool = WorkerPool(
            queues,
            connection=connection,
            num_workers=processes,
            worker_class=Worker,
            job_class=Job,
            exception_handlers=handlers,
        )
        pool.start(burst=batch, logging_level="WARNING")
        return
    # RQ refuses a second live worker with the same name, and a killed one's name stays
    # registered for a while: the site's id plus a suffix keeps it both readable and unique.
    worker = Worker(
        [django_rq.get_queue(name, job_class=Job) for name in queues],
        name=f"{worker_id}.{secrets.token_hex(3)}",
        connection=connection,
        exception_handlers=handlers,
    )
    worker.work(burst=batch, with_scheduler=True, logging_level="WARNING")


def live_workers_here(queues: list[str] | None = None) -> int:
    """How many RQ workers on this host (serving `queues`, if given) are registered."""
    connection = django_rq.get_connection(settings.TASK_QUEUES[0])
    here = socket.gethostname()
    return sum(
        1
        for worker in RQWorker.all(connection=connection)
        if worker.hostname == here and (queues is None or worker.queue_names() == queues)
    )


def problems(queues: list[str] | None = None) -> list[str]:
    """Redis unreachable, tasks running too long, ready tasks waiting too long (on `queues`,
    if given)."""
    now = timezone.now()
    found = []
    try:
        for name in queues or settings.TASK_QUEUES:
            queue = django_rq.get_queue(name, job_class=Job)
            queue.connection.ping()
            [oldest] = queue.get_jobs(0, 1) or [None]
            if oldest and oldest.enqueued_at:
                waited = now - oldest.enqueued_at
                if waited > timedelta(seconds=settings.WORKER_MAX_QUEUE_WAIT_SECONDS):
                    found.append(
                        f"The oldest task in the {name} queue has waited "
                        f"{waited.total_seconds():.0f} s (limit "
                        f"{settings.WORKER_MAX_QUEUE_WAIT_SECONDS} s): add workers or look "
                        "for a stuck one."
                    )
            # cleanup=False: cleaning is the workers' job, with the handler that re-runs
            # a dead worker's task; a health check must only look.
            for job_id in queue.started_job_registry.get_job_ids(cleanup=False):
                try:
                    job = Job.fetch(job_id, connection=queue.connection)
                except NoSuchJobError:  # Finished since we listed it.
                    continue
                running = now - job.started_at if job.started_at else timedelta(0)
                if running > timedelta(seconds=settings.WORKER_STUCK_AFTER_SECONDS):
                    found.append(
                        f"{job.func_name} has been running for {running.total_seconds():.0f} s "
                        f"(limit {settings.WORKER_STUCK_AFTER_SECONDS} s)."
                    )
    except RedisError as error:
        return [f"Redis is unreachable ({type(error).__name__}: {error}); check REDIS_URL."]
    return found
