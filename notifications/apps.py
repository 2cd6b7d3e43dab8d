from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    # The app's name is part of its URLs (/notifications/webhooks/) and table names, so
    # it stays "notifications" although everything in it is about webhooks.
    name = "notifications"
    verbose_name = "Webhooks"

    def ready(self):
        from . import receivers  # noqa: F401  Connects the receivers.
