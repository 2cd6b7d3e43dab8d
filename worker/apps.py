from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "worker"
    verbose_name = "Background worker"

    def ready(self):
        from . import signals  # noqa: F401  Connects the task log receivers.
