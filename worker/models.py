from django.db import models


class Heartbeat(models.Model):
    """A running db_worker process, as it last reported itself.

    Each worker refreshes its row every WORKER_HEARTBEAT_SECONDS from a background
    thread. A row older than WORKER_DEAD_AFTER_SECONDS means the process is gone (killed,
    out of memory, machine lost), and the tasks it was running can be recovered.
    """

    worker_id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["worker_id"]

    def __str__(self):
        return self.worker_id
