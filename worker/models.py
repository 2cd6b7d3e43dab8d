from django.db import models
from django.utils import timezone
from django.utils.module_loading import import_string


class Heartbeat(models.Model):
    """A running worker process, as it last reported itself.

    Each process refreshes its row six times per WORKER_DEAD_AFTER_SECONDS from a
    background thread (heartbeat.py), with the database's clock. A row older than
    WORKER_DEAD_AFTER_SECONDS, on that same clock, means the process is gone (killed, out
    of memory, machine lost), and the tasks it was running can be recovered.

    `worker_id` is stable across restarts (`host:slot`), so a restarted worker can find
    its predecessor; `process_id` adds a random token, so two processes that share a
    worker id (containers on the host network are all `host:1`) never pass for each other.
    """

    process_id = models.CharField(max_length=64, primary_key=True)
    worker_id = models.CharField(max_length=64, db_index=True)
    # The queues it serves, comma-separated: what its process type is for.
    queues = models.CharField(max_length=255)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["process_id"]

    def __str__(self):
        return self.process_id


class Retry(models.Model):
    """One link of a task's chain of attempts: the result that failed, and the one after it.

    Neither engine can attach data to a task result, so a retry is a new task (a new result
    id) and this table remembers where it came from: which attempt it is, and why the one
    before failed. A page that knows the first result id follows the chain to the latest.
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
    """A task to enqueue, recorded in the transaction that asked for it.

    worker.outbox writes the row with the change the task is about, so both commit or
    neither does, and then enqueues it: the request right after its commit, or the
    `enqueue_outbox` job every minute for a row the request couldn't. A row whose
    `enqueued_at` is set has been enqueued; `result_id` is that first attempt's result.
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
