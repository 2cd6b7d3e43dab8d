"""The safeguards' recurring job."""

from crontask import cron
from django.tasks import task

from . import ratelimit


@cron("17 * * * *")
@task(queue_name="default")
def prune_rate_limit_counters() -> str:
    """Delete rate-limit counters whose window is over, so the table holds only live ones."""
    return f"pruned {ratelimit.prune()}"
