from django.tasks import task


@task
def noop() -> None:
    """Does nothing, so a benchmark measures the queue and the worker, not the work."""
