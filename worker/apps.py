from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "worker"
    verbose_name = "Background worker"

    def ready(self):
        # Registers the system checks; connects the task log and retry receivers.
        from . import checks, retries, signals  # noqa: F401
