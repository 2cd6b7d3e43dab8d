from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "worker"
    verbose_name = "Workers"

    def ready(self):
        # Registers the system checks; connects the task log, retry and recurring receivers.
        from . import checks, recurring, retries, signals  # noqa: F401
