#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

# Any of these in the environment means a deployment (see .env.example).
PRODUCTION_VARIABLES = ("SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS")


def default_settings_module() -> str:
    """Development settings on a developer's machine, production settings on a platform.

    A Procfile process started with only the production variables must never run
    development settings (DEBUG on, SQLite, a public secret key), so their presence
    picks production; production then refuses to start if one of them is missing.
    """
    if any(os.environ.get(name) for name in PRODUCTION_VARIABLES):
        return "config.settings.prod"
    return "config.settings.dev"


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", default_settings_module())
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
