from django.db import models


class RateLimitCounter(models.Model):
    """Attempts counted for one rate-limit key in its current window (safeguards/ratelimit.py).

    `key` is the limit's scope and a hash of what it counts (an address, a client), never
    the value itself. Rows whose window is over are pruned hourly.
    """

    key = models.CharField(max_length=100, primary_key=True)
    count = models.PositiveIntegerField()
    resets_at = models.FloatField(help_text="When this window ends, in seconds since the epoch.")

    def __str__(self):
        return f"{self.key}: {self.count}"
