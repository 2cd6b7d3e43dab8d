from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "worker"
    verbose_name = "Background worker"

    def ready(self):
        # Connect the task log and retry receivers.
        from . import retries, signals  # noqa: F401
