"""Settings every environment shares; the other modules here change only what differs."""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = False
ALLOWED_HOSTS: list[str] = []

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.forms",
    "worker",
    "django_tasks_db",
    "crontask",
    "accounts",
    "notifications",
    "safeguards",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.devices.KnownDeviceMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.hashers.HashingBusyMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.durations",
            ],
        },
    },
]

# Form templates come from templates/ too: django/forms/field.html drops the label's colon.
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

# For SQLite shared by web and worker processes (dev.py, e2e.py): wait for locks rather than
# fail, and let pages read while the worker writes (WAL).
sqlite_shared_options = {
    "timeout": 20,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Needs only `manage.py createcachetable`. Rate limits keep their own counters (docs/accounts.md).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "django_cache",
    }
}

AUTH_USER_MODEL = "accounts.User"
# Argon2id hashes new passwords; older hashes still verify and are re-made at the next login.
# Django's hashers, taking turns so a crowd of logins can't starve other requests (docs/web.md).
PASSWORD_HASHERS = [
    "accounts.hashers.Argon2PasswordHasher",
    "accounts.hashers.PBKDF2PasswordHasher",
    "accounts.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
# Password hashes at once, per web process (docs/web.md).
PASSWORD_HASHING_CONCURRENCY = 2
# Requests hashing or waiting to, per process: all but 2 of gunicorn's WEB_THREADS, which stay
# free for other pages. Past it, the visitor gets "busy, try again" (docs/web.md).
PASSWORD_HASHING_LINE = max(1, int(os.environ.get("WEB_THREADS", "32")) - 2)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"

# `manage.py runworker <type>` serves its queues in the order listed (email first). Webhooks
# wait on other people's servers, so mail never queues behind them (docs/workers.md).
WORKER_PROCESSES = {
    "general": {"queues": ["email", "default", "search"], "threads": 8},
    "webhooks": {"queues": ["webhooks"], "threads": 25},
}
# Every queue a task may name; a task on any other queue fails at import.
task_queues = [queue for process in WORKER_PROCESSES.values() for queue in process["queues"]]


def tasks_backend(backend: str) -> dict:
    """The TASKS setting for `backend`: each environment module names its own."""
    return {"default": {"BACKEND": backend, "QUEUES": task_queues}}


def task_engine(engine: str, redis_url: str | None) -> tuple[dict, dict, list[str]]:
    """TASKS, RQ_QUEUES and the extra INSTALLED_APPS for TASKS_ENGINE's value: "database"
    (django-tasks-db) or "rq" (django-tasks-rq on Redis at `redis_url`)."""
    if engine == "database":
        return tasks_backend("django_tasks_db.DatabaseBackend"), {}, []
    if engine == "rq" and redis_url:
        return tasks_backend("django_tasks_rq.RQBackend"), rq_queues(redis_url), ["django_rq"]
    if engine == "rq":
        raise ImproperlyConfigured("TASKS_ENGINE is 'rq', so REDIS_URL must be set.")
    raise ImproperlyConfigured(
        f"TASKS_ENGINE is {engine!r}; it must be 'database' (the default) or 'rq'."
    )


def rq_queues(redis_url: str) -> dict:
    """RQ_QUEUES: every queue on `redis_url`, with the crash-safe queue of worker/engines/rq.py."""
    return {
        queue: {"URL": redis_url, "QUEUE_CLASS": "worker.engines.rq.Queue"} for queue in task_queues
    }


# RQ has no threads: a type's `threads` become whole Django processes, at most this many per
# `runworker`. On RQ, scale by running more processes (docs/engines.md).
RQ_MAX_PROCESSES_PER_WORKER = 4
# RQ forks a process for each job, so a job can't leak into the worker or take it down;
# False runs jobs in the worker itself, faster, at the costs docs/engines.md lists.
RQ_FORK_PER_JOB = True


# A worker silent this long is dead, and its running tasks are recovered (docs/workers.md).
WORKER_DEAD_AFTER_SECONDS = 60
# An idle worker looks for new tasks this often.
WORKER_POLL_SECONDS = 0.1
# `manage.py worker_health` fails when a task runs, or a ready task waits, longer than these.
WORKER_STUCK_AFTER_SECONDS = 5 * 60
WORKER_MAX_QUEUE_WAIT_SECONDS = 5 * 60
# Finished task results are an execution log, pruned hourly once older than this.
TASK_RESULT_RETENTION_DAYS = 14
# /metrics answers only `Authorization: Bearer <this>`, and is off while it is empty.
METRICS_TOKEN = ""

# Links in emails are built outside any request, so the site needs to know its own address.
SITE_URL = "http://127.0.0.1:8000"
DEFAULT_FROM_EMAIL = "Tasks Demo <noreply@example.com>"

# Password-reset links expire after this many seconds (and work once).
PASSWORD_RESET_TIMEOUT = 60 * 60

# Every rate limit; a window starts at the first attempt (safeguards/ratelimit.py) and pages
# word it from these values. docs/accounts.md and docs/webhooks.md say what each one counts.
RATE_LIMITS = {
    # per_address counts mails from signup and /accounts/resend/ together.
    "resend": {"per_address": 3, "per_client": 10, "window_seconds": 60 * 60},
    # Password guesses, counted before any hash. Throttled, never locked (docs/accounts.md).
    "login": {
        "per_client": 30,
        "per_account_and_client": 10,
        "per_account": 100,
        "per_known_device": 10,
        "window_seconds": 15 * 60,
    },
    "signup": {"per_client": 10, "window_seconds": 60 * 60},
    "profile_save": {"per_member": 30, "window_seconds": 60 * 60},
    "password_reset": {"per_address": 3, "per_client": 10, "window_seconds": 60 * 60},
    # Test events and redeliveries a member starts by hand.
    "webhook_manual_send": {"count": 10, "window_seconds": 10 * 60},
    "webhook_url_check": {"count": 20, "window_seconds": 10 * 60},
    "csp_report": {"per_client": 30, "window_seconds": 60},
}

# Proxies in front that append to X-Forwarded-For; 0: REMOTE_ADDR is the client (docs/accounts.md).
TRUSTED_PROXY_COUNT = 0

# True lets webhooks reach private addresses (notifications/ssrf.py): never in production.
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
# Seconds a whole delivery attempt may take, DNS lookup to last byte (docs/webhooks.md).
WEBHOOKS_DELIVERY_TIMEOUT = 10
# A finished delivery (a line in its endpoint's log) is deleted once this old, hourly.
WEBHOOKS_DELIVERY_RETENTION_DAYS = 30

# A strict policy: no inline code unless it carries this response's nonce.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "report-uri": "/csp-report/",
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # key=value (logfmt), which log platforms parse into fields.
        "plain": {"format": "time=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"},
    },
    # Confirmation and reset links carry their token in the path (safeguards/redaction.py).
    "filters": {
        "redact_secret_paths": {"()": "safeguards.redaction.RedactSecretPaths"},
        "expected_failures": {"()": "worker.logs.ExpectedFailuresInOneLine"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["expected_failures", "redact_secret_paths"],
        },
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        # worker/signals.py logs each task; Django's task loggers (and the backport's, which
        # RQ uses) keep only their warnings and errors.
        "django.tasks": {"level": "WARNING"},
        "django_tasks": {"level": "WARNING"},
        "django_tasks_db": {"level": "INFO"},
        "safeguards.csp": {"level": "WARNING"},
        "worker": {"level": "INFO"},
        "rq.worker": {"level": "WARNING"},
    },
}
