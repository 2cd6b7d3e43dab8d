"""Real processes (gunicorn, runworker, runscheduler) started by tests against a throwaway database.

Production's shape without its fences; engine, database and mail follow the test's environment.
"""

import os

import dj_database_url

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "insecure-e2e-only"  # noqa: S105
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SITE_URL = os.environ.get("SITE_URL", SITE_URL)  # Where the test started the site.

DATABASES = {
    "default": dj_database_url.parse(
        os.environ["DATABASE_URL"], conn_max_age=600, conn_health_checks=True
    )
}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = sqlite_shared_options

# The engine as production chooses it: TASKS_ENGINE=rq runs the same processes on Redis.
TASKS, RQ_QUEUES, engine_apps = task_engine(
    os.environ.get("TASKS_ENGINE", "database"), os.environ.get("REDIS_URL")
)
INSTALLED_APPS = [*INSTALLED_APPS, *engine_apps]

# Mail goes to the test's SMTP server on E2E_SMTP_PORT if it runs one, else to E2E_MAIL_DIR.
if smtp_port := os.environ.get("E2E_SMTP_PORT"):
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": int(smtp_port), "timeout": 30},
        }
    }
else:
    MAILERS = {
        "default": {
            "BACKEND": "config.mail.ReadableFileEmailBackend",
            "OPTIONS": {"file_path": os.environ.get("E2E_MAIL_DIR", BASE_DIR / "var" / "e2e")},
        }
    }

# A cache per process is enough for tests, and needs no cache table.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STORAGES = {
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# A test that plays many clients at once says who each is in X-Forwarded-For.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
# Receivers in tests listen on 127.0.0.1.
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
# Tests of crash recovery can't wait a minute for a heartbeat to go stale.
WORKER_DEAD_AFTER_SECONDS = float(os.environ.get("WORKER_DEAD_AFTER_SECONDS", "3"))
# A test turns RQ's fork per job off, to show what runs without it.
RQ_FORK_PER_JOB = os.environ.get("RQ_FORK_PER_JOB", "true") != "false"
# A test that a notification, not a poll, starts a task makes the poll rare.
WORKER_POLL_SECONDS = float(os.environ.get("WORKER_POLL_SECONDS", str(WORKER_POLL_SECONDS)))
# How long (plus grace) before the sweep counts an attempt cut off; chaos runs wait for it.
WEBHOOKS_DELIVERY_TIMEOUT = float(
    os.environ.get("WEBHOOKS_DELIVERY_TIMEOUT", str(WEBHOOKS_DELIVERY_TIMEOUT))
)
