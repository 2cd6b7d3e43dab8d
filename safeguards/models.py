from django.db import models


class RateLimitCounter(models.Model):
    """Attempts counted for one rate-limit key in its current window (safeguards/ratelimit.py).

    `key` is a scope and a hash of what it counts, never the value; old windows go hourly.
    """

    key = models.CharField(max_length=100, primary_key=True)
    count = models.PositiveIntegerField()
    resets_at = models.FloatField(help_text="When this window ends, in seconds since the epoch.")

    class Meta:
        # Its table from when it lived in accounts: a rename would fail the old code's
        # web processes, still serving during a deploy, and any rollback.
        db_table = "accounts_ratelimitcounter"

    def __str__(self):
        return f"{self.key}: {self.count}"
