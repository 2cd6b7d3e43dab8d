from django.db import models
from django.utils import timezone
from django.utils.module_loading import import_string


class Heartbeat(models.Model):
    """A worker process, as it last reported itself (heartbeat.py). A row older than
    WORKER_DEAD_AFTER_SECONDS, on the database's clock, is a dead process.

    `worker_id` (`host:slot`) is the same after a restart; `process_id` adds a random
    token, so processes that share a worker id never pass for each other.
    """

    process_id = models.CharField(max_length=64, primary_key=True)
    worker_id = models.CharField(max_length=64, db_index=True)
    # The queues it serves, comma-separated: what its process type is for.
    queues = models.CharField(max_length=255)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    threads = models.PositiveSmallIntegerField(null=True)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["process_id"]

    def __str__(self):
        return self.process_id


class Retry(models.Model):
    """One link of a task's chain of attempts: the result that failed, and the one after it.

    Neither engine can attach data to a result, so a retry is a new result, linked here.
    """

    result_id = models.CharField(max_length=64, primary_key=True)
    next_result_id = models.CharField(max_length=64, unique=True)
    task_path = models.CharField(max_length=255)
    # The attempt that next_result_id is: 2 for the first retry.
    attempt = models.PositiveIntegerField()
    reason = models.CharField(max_length=500)
    run_after = models.DateTimeField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self):
        return f"{self.task_path} attempt {self.attempt}"


class OutboxTask(models.Model):
    """A task to enqueue, recorded in the transaction that asked for it (worker.outbox).

    Once `enqueued_at` is set, `result_id` is its first attempt's result.
    """

    task_path = models.CharField(max_length=255)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    enqueued_at = models.DateTimeField(null=True)
    result_id = models.CharField(max_length=64, blank=True)
    # Why the engine refused this row itself (its task renamed, say), not for being down.
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            # The rows still to enqueue: few, and all the minute job asks for.
            models.Index(
                fields=["created_at"],
                condition=models.Q(enqueued_at__isnull=True),
                name="worker_outbox_pending",
            ),
            # The hourly prune's question.
            models.Index(fields=["enqueued_at"], name="worker_outbox_enqueued"),
        ]

    def __str__(self):
        return f"{self.task_path} {self.pk}"

    @property
    def task(self):
        return import_string(self.task_path)


class PausedQueue(models.Model):
    """A queue whose tasks no worker takes until it is resumed; enqueueing goes on."""

    name = models.CharField(max_length=100, primary_key=True)
    paused_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name


class Failure(models.Model):
    """A task result that failed with no further attempt coming: a line of the failed list.

    Written when the failure is (worker/failures.py), on every engine; pruned with results.
    """

    result_id = models.CharField(max_length=64, primary_key=True)
    task_path = models.CharField(max_length=255)
    queue_name = models.CharField(max_length=100)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    exception_class = models.CharField(max_length=255)
    message = models.CharField(max_length=500)
    attempt = models.PositiveIntegerField()
    max_attempts = models.PositiveIntegerField()
    failed_at = models.DateTimeField(default=timezone.now, db_index=True)
    retried_at = models.DateTimeField(null=True)
    discarded_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [
            # The failed list: failures nobody has retried or discarded yet, newest first.
            models.Index(
                fields=["-failed_at"],
                condition=models.Q(retried_at__isnull=True, discarded_at__isnull=True),
                name="worker_failure_open",
            ),
        ]

    def __str__(self):
        return f"{self.task_name} {self.result_id}"

    @property
    def task_name(self) -> str:
        return self.task_path.rpartition(".")[2]


class RecurringRun(models.Model):
    """The last run of a recurring (@cron) task, whatever the engine keeps (recurring.py)."""

    task_path = models.CharField(max_length=255, primary_key=True)
    result_id = models.CharField(max_length=64)
    status = models.CharField(max_length=20)
    finished_at = models.DateTimeField()

    def __str__(self):
        return self.task_path


class Recovery(models.Model):
    """A task whose worker died while running it, and what recovery did: re-ran it (its
    policy allows) or put it on the failed list. Written by both engines' recovery."""

    result_id = models.CharField(max_length=64, primary_key=True)
    worker = models.CharField(max_length=255)  # The dead process: its id, or RQ's name.
    task_path = models.CharField(max_length=255)
    rerun = models.BooleanField()
    recovered_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self):
        return self.result_id


class BackgroundWork(models.Model):
    """No table: what the admin's "Background work" pages need permission for (admin.py).
    View to see the queues, workers and failed tasks; change to retry, discard and pause."""

    class Meta:
        managed = False
        default_permissions = ("view", "change")
        verbose_name = verbose_name_plural = "background work"

    def __str__(self):
        return "background work"
