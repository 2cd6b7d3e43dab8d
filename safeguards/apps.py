from django.apps import AppConfig


class SafeguardsConfig(AppConfig):
    name = "safeguards"
    verbose_name = "Safeguards"
