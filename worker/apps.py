from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "worker"
    verbose_name = "Background worker"

    def ready(self):
        from . import checks, signals  # noqa: F401  Registers the checks, connects the log receivers.
