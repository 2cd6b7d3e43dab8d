"""The RQ engine (django-tasks-rq): tasks are jobs in Redis, run by RQ workers.

What this adds to RQ, and why, is in docs/engines.md: jobs taken crash-safely from several
queues in order (`Queue`, `TakenJobs`), no forked process outliving its worker, `run_after`
rounded up, a dead worker's task re-run by its policy, and RQ's heartbeat and maintenance
timed from WORKER_DEAD_AFTER_SECONDS.
"""

import contextlib
import ctypes
import json
import logging
import math
import os
import secrets
import signal
import socket
import time
from datetime import timedelta

import django_rq
from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone
from django_rq.queues import DjangoRQ
from django_tasks_rq import Job
from redis.exceptions import RedisError
from rq import SimpleWorker as RQSimpleWorker
from rq import Worker as RQWorker
from rq.exceptions import AbandonedJobError, DequeueTimeout, NoSuchJobError
from rq.intermediate_queue import IntermediateQueue
from rq.job import JobStatus
from rq.job_lifecycle import call_exception_handlers
from rq.utils import as_text
from rq.worker import WorkerStatus
from rq.worker_pool import WorkerPool

from worker import failures, pausing, retries
from worker.heartbeat import beat_interval
from worker.policies import ExpectedFailure
from worker.recovery import WORKER_DIED, WorkerDied, remember

from . import Later, QueueStats, WorkerProcess

logger = logging.getLogger(__name__)


class Queue(DjangoRQ):
    """django-rq's queue, taking jobs crash-safely from any number of queues in order.
    `rq_queues()` in config/settings/base.py names it for every queue."""

    @classmethod
    def dequeue_any(
        cls,
        queues,
        timeout,
        connection,
        job_class=None,
        serializer=None,
        death_penalty_class=None,
    ):
        """The first job of the first queue that has one, moved to that queue's intermediate
        list; None (timeout None) or DequeueTimeout when there is none."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def fetch(queue, job_id):  # None if the job's hash is gone: take the next one.
            return cls._fetch_dequeued_job(
                connection,
                queue.key,
                as_text(job_id),
                job_class=job_class,
                serializer=serializer,
                death_penalty_class=death_penalty_class,
            )

        while True:
            # Outside any request: drop a connection the database closed (a restart).
            close_old_connections()
            paused = pausing.recently_paused()
            serving = [queue for queue in queues if queue.name not in paused]
            for queue in serving:
                job_id = connection.lmove(queue.key, queue.intermediate_queue_key)
                if job_id and (found := fetch(queue, job_id)):
                    return found
            if deadline is None:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise DequeueTimeout(timeout, [queue.key for queue in queues])
            if not serving:  # Every queue paused: look again when a resume could show.
                time.sleep(min(left, pausing.REFRESH_SECONDS))
                continue
            # Wait on the first queue, the most urgent; look at the others between waits,
            # and at the paused queues as often as a pause may change.
            first = serving[0]
            every = settings.WORKER_POLL_SECONDS if len(serving) > 1 else pausing.REFRESH_SECONDS
            wait = min(left, every)
            job_id = connection.blmove(first.key, first.intermediate_queue_key, wait)
            if job_id and (found := fetch(first, job_id)):
                return found

    def create_job(self, *args, **kwargs):
        # A failure stays as long as a database result does; RQ's default is a year.
        kwargs.setdefault("failure_ttl", settings.TASK_RESULT_RETENTION_DAYS * 24 * 3600)
        return super().create_job(*args, **kwargs)

    def schedule_job(self, job, datetime, **kwargs):
        # RQ keeps whole seconds and runs a job once its second begins: round up, never early.
        if datetime.microsecond:
            datetime = datetime.replace(microsecond=0) + timedelta(seconds=1)
        return super().schedule_job(job, datetime, **kwargs)

    @property
    def intermediate_queue(self):
        return TakenJobs(self.key, connection=self.connection)

    def acquire_maintenance_lock(self) -> bool:
        # RQ holds it for 15 minutes: a worker killed while cleaning would stop the
        # recovery of every dead worker's jobs for that long.
        ttl = math.ceil(settings.WORKER_DEAD_AFTER_SECONDS)
        return bool(self.connection.set(self.registry_cleaning_key, 1, nx=True, ex=ttl))


class TakenJobs(IntermediateQueue):
    """The jobs workers have taken from a queue and not yet started."""

    def remove(self, job_id):
        super().remove(job_id)
        self.connection.delete(self.get_first_seen_key(job_id))

    # Back to the front of its queue, if no other cleaner moved it first; its first-seen
    # mark goes with it.
    PUT_BACK = """
        if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then
            redis.call('LPUSH', KEYS[2], ARGV[1])
        end
        redis.call('DEL', KEYS[3])
    """

    def cleanup(self, worker, queue):
        """Put back on their queue the jobs taken by a worker that died before starting them.

        A live worker starts a job moments after taking it; one seen here at one
        maintenance and still here WORKER_DEAD_AFTER_SECONDS later never will be. A job
        that has run since (its work horse died before it could take it off this list)
        is only taken off.
        """
        dead_after = timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS)
        for job_id in self.get_job_ids():
            if job_id in queue.started_job_registry:
                continue
            job = queue.fetch_job(job_id)
            if job is None or job.get_status() != JobStatus.QUEUED:
                self.remove(job_id)
            elif self.set_first_seen(job_id):
                continue
            elif timezone.now() - (self.get_first_seen(job_id) or timezone.now()) > dead_after:
                first_seen = self.get_first_seen_key(job_id)
                self.connection.eval(self.PUT_BACK, 3, self.key, queue.key, first_seen, job_id)
                logger.warning(
                    "event=task_requeued task=%s id=%s queue=%s reason=taken_but_not_started",
                    job.func_name,
                    job_id,
                    queue.name,
                )


PR_SET_PDEATHSIG = 1


def stop_with_parent(prctl, parent_pid: int) -> None:
    """In a forked child: receive SIGTERM when the parent dies."""
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:  # It died before the line above.
        os.kill(os.getpid(), signal.SIGTERM)


def stop_children_with_worker() -> None:
    """Every process forked from here on gets SIGTERM when its parent dies, so none serves
    on for a dead worker (docs/engines.md). Linux only; elsewhere nothing."""
    try:
        # Looked up here: a child of a threaded process must not load libraries.
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return
    parent = {}
    os.register_at_fork(
        before=lambda: parent.update(pid=os.getpid()),
        after_in_child=lambda: stop_with_parent(prctl, parent["pid"]),
    )


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
    else:
        failures.record(task, job.id, job.args, job.kwargs, WorkerDied(WORKER_DIED))
    remember(job.id, job.worker_name or "unknown", task.module_path, rerun=rerun)
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
        kwargs.setdefault("queue_class", Queue)
        # RQ counts these in whole seconds (signal.alarm).
        heartbeat = math.ceil(beat_interval())
        kwargs.setdefault("job_monitoring_interval", heartbeat)
        # Maintenance finds dead workers' jobs, and starts this worker's scheduler if it
        # couldn't take the lock before (its predecessor's scheduler was still letting
        # go): as often as a heartbeat, so a retry waits seconds for it, not a minute.
        kwargs.setdefault("maintenance_interval", heartbeat)
        # An idle worker blocks waiting for a job for worker_ttl - 15 s, and maintains
        # only between waits: wake it as often as maintenance is due.
        kwargs.setdefault("worker_ttl", heartbeat + 15)
        kwargs.setdefault("work_horse_killed_handler", work_horse_killed_handler)
        super().__init__(*args, **kwargs)

    def fork_work_horse(self, job, queue):
        # The work horse opens its own database connections: one shared by two processes
        # (this one asks it which queues are paused) would mix their conversations.
        connections.close_all()
        super().fork_work_horse(job, queue)

    def prepare_job_execution(self, job, remove_from_intermediate_queue=False):
        # Queue.dequeue_any took every job through the intermediate list, whatever the
        # number of queues (RQ assumes that only for one).
        super().prepare_job_execution(job, remove_from_intermediate_queue=True)
        # A maintenance may have seen it in the moment between taking and starting it.
        # Best effort: the job has started, and a mark only matters to a job that waits.
        taken = TakenJobs(f"{Queue.redis_queue_namespace_prefix}{job.origin}", self.connection)
        with contextlib.suppress(RedisError):
            self.connection.delete(taken.get_first_seen_key(job.id))

    def handle_exception(self, job, *exc_info):
        if isinstance(exc_info[1], ExpectedFailure):  # One line, not a traceback.
            self.log.warning(
                "event=task_failed job=%s error=%s", job.id, json.dumps(str(exc_info[1]))
            )
            call_exception_handlers(self._exc_handlers, job, *exc_info)
            return
        super().handle_exception(job, *exc_info)

    def get_heartbeat_ttl(self, job, working_time=0.0) -> int:
        # RQ's default adds a fixed minute; a job is abandoned once its worker has been
        # silent for WORKER_DEAD_AFTER_SECONDS.
        ttl = super().get_heartbeat_ttl(job, working_time) - 60
        return ttl + math.ceil(settings.WORKER_DEAD_AFTER_SECONDS)


class InProcessWorker(Worker):
    """RQ_FORK_PER_JOB = False: each job runs in the worker's own process, as RQ's
    SimpleWorker runs it, with no fork. Its heartbeat while running a job lasts the job's
    timeout, so a killed worker's job is found after that, not WORKER_DEAD_AFTER_SECONDS.
    docs/engines.md weighs it."""

    def execute_job(self, job, queue):
        execution = self.prepare_execution(job)
        self.perform_job(job, queue, execution)
        self.set_state(WorkerStatus.IDLE)

    def get_heartbeat_ttl(self, job, working_time=0.0) -> int:
        return RQSimpleWorker.get_heartbeat_ttl(self, job, working_time)


def run_worker(*, queues: list[str], threads: int, worker_id: str, batch: bool = False) -> None:
    """Serve `queues` in order until SIGTERM; with `batch`, until they are empty."""
    connection = django_rq.get_connection(queues[0])
    worker_class = Worker if settings.RQ_FORK_PER_JOB else InProcessWorker
    handlers = [abandoned_job_handler]
    stop_children_with_worker()
    processes = min(threads, settings.RQ_MAX_PROCESSES_PER_WORKER)
    if processes > 1:
        pool = WorkerPool(
            queues,
            connection=connection,
            num_workers=processes,
            worker_class=worker_class,
            job_class=Job,
            queue_class=Queue,
            exception_handlers=handlers,
        )
        pool.start(burst=batch, logging_level="WARNING")
        return
    # RQ refuses a second live worker with the same name, and a killed one's name stays
    # registered for a while: the site's id plus a suffix keeps it both readable and unique.
    worker = worker_class(
        [django_rq.get_queue(name, job_class=Job, queue_class=Queue) for name in queues],
        name=f"{worker_id}.{secrets.token_hex(3)}",
        connection=connection,
        exception_handlers=handlers,
    )
    worker.work(burst=batch, with_scheduler=True, logging_level="WARNING")


def recover_dead_tasks() -> int:
    """Nothing to do here: every worker's maintenance finds the jobs of dead workers
    (`rerun_after_worker_died`, `TakenJobs`)."""
    return 0


def prune_results() -> None:
    """Nothing to do here: Redis expires results itself (a success after RQ's result_ttl,
    a failure after TASK_RESULT_RETENTION_DAYS: `Queue.create_job`)."""


def live_workers_here(queues: list[str] | None = None) -> int:
    """How many RQ workers on this host (serving `queues`, if given) are registered."""
    connection = django_rq.get_connection(settings.TASKS["default"]["QUEUES"][0])
    here = socket.gethostname()
    return sum(
        1
        for worker in RQWorker.all(connection=connection)
        if worker.hostname == here and (queues is None or worker.queue_names() == queues)
    )


def live_workers(queues: list[str]) -> int:
    """How many RQ workers serving `queues`, on any host, are registered."""
    connection = django_rq.get_connection(queues[0])
    return sum(
        1 for worker in RQWorker.all(connection=connection) if worker.queue_names() == queues
    )


def problems(queues: list[str] | None = None) -> list[str]:
    """Redis unreachable, tasks running too long, ready tasks waiting too long (on `queues`,
    if given)."""
    now = timezone.now()
    found = []
    try:
        paused = pausing.paused_queues()
        for name in queues or settings.TASKS["default"]["QUEUES"]:
            queue = django_rq.get_queue(name, job_class=Job)
            queue.connection.ping()
            [oldest] = queue.get_jobs(0, 1) or [None]
            if oldest and oldest.enqueued_at and name not in paused:
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


def queue_stats(queues: list[str]) -> list[QueueStats]:
    """From Redis. A successful job's result lasts RQ's result_ttl (minutes), so how many
    finished in the last hour is not known here; a failure's expiry tells when it failed."""
    now = timezone.now()
    failure_ttl = settings.TASK_RESULT_RETENTION_DAYS * 24 * 3600
    stats = []
    for name in queues:
        queue = django_rq.get_queue(name, job_class=Job, queue_class=Queue)
        [oldest] = queue.get_jobs(0, 1) or [None]
        since = oldest.enqueued_at if oldest else None
        failed = queue.connection.zcount(
            queue.failed_job_registry.key, now.timestamp() + failure_ttl - 3600, "+inf"
        )
        stats.append(
            QueueStats(
                name=name,
                waiting=queue.count,
                oldest_wait=(now - since).total_seconds() if since else None,
                # cleanup=False, as in problems(): only the workers may clean.
                later=queue.scheduled_job_registry.get_job_count(cleanup=False),
                running=queue.started_job_registry.get_job_count(cleanup=False),
                finished_last_hour=None,
                failed_last_hour=failed,
            )
        )
    return stats


def due_later(limit: int) -> tuple[int, list[Later]]:
    count, found = 0, []
    for name in settings.TASKS["default"]["QUEUES"]:
        registry = django_rq.get_queue(
            name, job_class=Job, queue_class=Queue
        ).scheduled_job_registry
        count += registry.get_job_count(cleanup=False)
        for job_id in registry.get_job_ids(0, limit - 1, cleanup=False):
            with contextlib.suppress(NoSuchJobError):
                job = Job.fetch(job_id, connection=registry.connection)
                when = registry.get_scheduled_time(job)
                found.append(Later(job.id, job.func_name, name, when, list(job.args)))
    return count, sorted(found, key=lambda later: later.run_after)[:limit]


def run_now(result_id: str) -> bool:
    for name in settings.TASKS["default"]["QUEUES"]:
        queue = django_rq.get_queue(name, job_class=Job, queue_class=Queue)
        if result_id not in queue.scheduled_job_registry:
            continue
        try:
            job = Job.fetch(result_id, connection=queue.connection)
        except NoSuchJobError:  # Expired while it waited.
            return False
        if queue.scheduled_job_registry.remove(result_id):
            queue.enqueue_job(job)
            return True
    return False


def task_path(result_id: str) -> str | None:
    """The task of job `result_id`, while Redis keeps it."""
    connection = django_rq.get_connection(settings.TASKS["default"]["QUEUES"][0])
    try:
        return Job.fetch(result_id, connection=connection).func_name
    except NoSuchJobError:
        return None


def workers(limit: int) -> list[WorkerProcess]:
    """The registered workers, the live first. A killed worker stays registered until its
    key expires, seconds later, and shows as dead until then; after, only its jobs show
    (Recovery)."""
    connection = django_rq.get_connection(settings.TASKS["default"]["QUEUES"][0])
    silent_since = timezone.now() - timedelta(seconds=settings.WORKER_DEAD_AFTER_SECONDS)

    def alive(worker) -> bool:
        return worker.last_heartbeat is not None and worker.last_heartbeat >= silent_since

    found = sorted(
        RQWorker.all(connection=connection), key=lambda each: (not alive(each), each.name)
    )
    return [
        WorkerProcess(
            name=worker.name,
            host=worker.hostname,
            pid=worker.pid,
            queues=worker.queue_names(),
            threads=1,  # One job at a time; RQ_MAX_PROCESSES_PER_WORKER starts more workers.
            started_at=worker.birth_date,
            seen_at=worker.last_heartbeat,
            in_flight=int(worker.get_current_job_id() is not None),
            alive=alive(worker),
        )
        for worker in found[:limit]
    ]
