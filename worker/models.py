from django.db import models


class Heartbeat(models.Model):
    """A running worker process, as it last reported itself.

    Each process refreshes its row every WORKER_HEARTBEAT_SECONDS from a background
    thread, with the database's clock. A row older than WORKER_DEAD_AFTER_SECONDS, on
    that same clock, means the process is gone (killed, out of memory, machine lost), and
    the tasks it was running can be recovered.

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
