"""Settings shared by every environment.

Each environment module (dev.py, test.py, prod.py) imports this one and changes only
what differs: the database, where mail goes, and which Tasks backend runs the tasks.
"""

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

# Form templates are looked up in templates/ too: templates/django/forms/field.html
# renders labels without Django's trailing colon.
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

# Databases come from each environment module. Where SQLite is shared by web and worker
# processes (development, browser tests), it waits for locks rather than failing, and
# WAL lets the site read while the worker writes.
sqlite_shared_options = {
    "timeout": 20,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One cache every web process shares; the database cache needs nothing beyond the
# database (`manage.py createcachetable`). Rate limits don't use it: they need atomic
# counters, which safeguards/ratelimit.py keeps in a table of its own.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "django_cache",
    }
}

AUTH_USER_MODEL = "accounts.User"
# Argon2id first: new and changed passwords get it. PBKDF2 (Django's default) stays so
# that hashes made before still verify; Django re-hashes them, and Argon2id hashes made
# at another cost, with Argon2id at the member's next login. Argon2id makes GPU
# cracking expensive through memory, and at OWASP's minimum cost takes a fifteenth of
# PBKDF2's CPU (docs/web.md).
# These are Django's hashers taking turns (accounts/hashers.py): a web process runs at
# most PASSWORD_HASHING_CONCURRENCY hashes at once, so a crowd of logins can't starve
# its other threads of CPU.
PASSWORD_HASHERS = [
    "accounts.hashers.Argon2PasswordHasher",
    "accounts.hashers.PBKDF2PasswordHasher",
    "accounts.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
# Two hashes at once per process: a burst seldom splits evenly between processes, and
# with two turns the process that got most of it hashes on both cores (docs/web.md).
PASSWORD_HASHING_CONCURRENCY = 2
# A request waiting for its turn holds one of the WEB_THREADS threads of its web process
# (config/gunicorn.py reads the same variable). At most PASSWORD_HASHING_LINE of them
# hash or wait at once, so 2 threads are always left for every other page; past that, or
# after waiting PASSWORD_HASHING_TIMEOUT seconds (accounts/hashers.py), the visitor gets
# "busy, try again".
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

# Tasks. Each process type runs `manage.py runworker <type>` (see Procfile) and serves
# its queues in the order listed: a worker with a confirmation email and a burst of
# search updates waiting takes the email first, with no priorities (which the RQ engine
# can't honour). Webhook deliveries wait on other
# people's servers, so they get their own process type with many threads, and mail
# never queues behind a slow receiver. See docs/workers.md for sizing.
WORKER_PROCESSES = {
    "worker": {"queues": ["email", "default", "search"], "threads": 3},
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
    """RQ_QUEUES for the RQ engine: every queue on `redis_url`, with the queue class that
    takes jobs crash-safely and never runs one early (worker/engines/rq.py)."""
    return {
        queue: {"URL": redis_url, "QUEUE_CLASS": "worker.engines.rq.Queue"} for queue in task_queues
    }


# RQ has no threads: on the RQ engine a process type's `threads` become worker processes,
# each a whole Django process (tens of MB). At most this many run per `runworker`; for more
# concurrency on RQ, run more processes of the type (docs/engines.md).
RQ_MAX_PROCESSES_PER_WORKER = 4


# The database engine's workers (worker/engines/database.py). Each process writes a
# heartbeat six times in this long, on the database's clock (worker/heartbeat.py); one
# silent for this long is dead, and the recovery job (every minute) fails its RUNNING tasks
# and re-runs those whose policy says they are safe to run twice (worker/policies.py).
WORKER_DEAD_AFTER_SECONDS = 60
# An idle worker looks for new tasks this often.
WORKER_POLL_SECONDS = 0.1
# `manage.py worker_health` fails when a task has run longer than this, or a ready task
# has waited longer than that.
WORKER_STUCK_AFTER_SECONDS = 5 * 60
WORKER_MAX_QUEUE_WAIT_SECONDS = 5 * 60
# Finished task results are an execution log, pruned hourly once older than this.
TASK_RESULT_RETENTION_DAYS = 14

# Links in emails are built outside any request, so the site needs to know its own address.
SITE_URL = "http://127.0.0.1:8000"
DEFAULT_FROM_EMAIL = "Tasks Demo <noreply@example.com>"

# Password-reset links expire after this many seconds (and work once).
PASSWORD_RESET_TIMEOUT = 60 * 60

# Rate limits, keyed by what they limit, counted atomically in the database
# (safeguards/ratelimit.py). Each window starts at the first attempt; pages word the
# windows from these values.
RATE_LIMITS = {
    # Confirmation emails: per_address per address (signup and /accounts/resend/
    # together); /accounts/resend/ answers per_client requests per client.
    "resend": {"per_address": 3, "per_client": 10, "window_seconds": 60 * 60},
    # Password guesses (site login, /admin/ login, the confirmation page), counted before
    # any hash. Throttled, never locked: a stranger's guesses use up their own share of an
    # account, and a browser that logged in to it before gets a share of its own
    # (accounts/devices.py). A password reset lifts the account-wide cap.
    "login": {
        "per_client": 30,
        "per_account_and_client": 10,
        "per_account": 100,
        "per_known_device": 10,
        "window_seconds": 15 * 60,
    },
    "signup": {"per_client": 10, "window_seconds": 60 * 60},
    # Each profile save is an event delivered to the member's webhooks.
    "profile_save": {"per_member": 30, "window_seconds": 60 * 60},
    "password_reset": {"per_address": 3, "per_client": 10, "window_seconds": 60 * 60},
    # Deliveries a member starts by hand: test events and redeliveries together.
    "webhook_manual_send": {"count": 10, "window_seconds": 10 * 60},
    # Endpoint URLs a member has checked, each a DNS lookup while the request waits.
    "webhook_url_check": {"count": 20, "window_seconds": 10 * 60},
    # Reports to /csp-report/.
    "csp_report": {"per_client": 30, "window_seconds": 60},
}

# How many proxies (load balancer, platform router) sit in front of the web process and
# append to X-Forwarded-For. 0 means clients connect directly and REMOTE_ADDR is theirs.
TRUSTED_PROXY_COUNT = 0

# Webhooks may only be sent to public internet addresses (see notifications/ssrf.py).
# Development turns this on so a receiver on localhost works; production never should.
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
# One deadline, in seconds, for everything a delivery attempt does: resolving the name,
# connecting, TLS, sending and reading the answer. A receiver can hold a worker thread
# no longer than this, however slowly it answers.
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
    "filters": {"redact_secret_paths": {"()": "safeguards.redaction.RedactSecretPaths"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secret_paths"],
        },
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        # Their start and finish lines say less than worker/signals.py's; their failures
        # (ERROR, with the traceback) stay. django_tasks is the backport, which RQ uses.
        "django.tasks": {"level": "WARNING"},
        "django_tasks": {"level": "WARNING"},
        "django_tasks_db": {"level": "INFO"},
        "safeguards.csp": {"level": "WARNING"},
        "worker": {"level": "INFO"},
        "rq.worker": {"level": "WARNING"},
    },
}
