from .base import *  # noqa: F403

DEBUG = True
SECRET_KEY = "insecure-development-only"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]

# Local state (database, mail) lives in var/, which git ignores.
(BASE_DIR / "var").mkdir(exist_ok=True)  # noqa: F405

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "var" / "db.sqlite3",  # noqa: F405
        # The worker and the web process share this file; wait for a lock rather than fail.
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            # WAL lets the site read while the worker writes.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        },
    }
}

# Tasks are stored in the database and run by `manage.py db_worker` (see Procfile.dev).
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": TASK_QUEUES,  # noqa: F405
    }
}

# Each email is written to a file under var/mail/, so you can open the confirmation link.
MAILERS = {
    "default": {
        "BACKEND": "config.mail.ReadableFileEmailBackend",
        "OPTIONS": {"file_path": BASE_DIR / "var" / "mail"},  # noqa: F405
    }
}

# Let webhooks reach a receiver on this machine.
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
