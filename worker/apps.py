from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "worker"
    verbose_name = "Workers"

    def ready(self):
        # Registers the system checks; connects the task log, retry, recurring and wake-up
        # receivers.
        from . import checks, recurring, retries, signals, wakeup  # noqa: F401
