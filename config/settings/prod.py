"""Production: everything comes from the environment, and a missing essential stops start-up.

Required: SECRET_KEY, DATABASE_URL, ALLOWED_HOSTS. The rest is optional; .env.example lists it all.
"""

import os

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403


def required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(
            f"The {name} environment variable is required in production "
            f"(config.settings.prod). See .env.example. For development, set "
            f"DJANGO_SETTINGS_MODULE=config.settings.dev."
        )
    return value


def flag(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


DEBUG = False
SECRET_KEY = required("SECRET_KEY")
# Refuse a weak key, such as .env.example's placeholder, at start-up (docs/production.md).
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure-"):
    raise ImproperlyConfigured(
        "SECRET_KEY is too weak for production: use 50 or more random characters, e.g. "
        "python -c 'from django.core.management.utils import get_random_secret_key; "
        "print(get_random_secret_key())'"
    )
ALLOWED_HOSTS = [host.strip() for host in required("ALLOWED_HOSTS").split(",") if host.strip()]
CSRF_TRUSTED_ORIGINS = [f"https://{host.lstrip('.')}" for host in ALLOWED_HOSTS if host != "*"]

DATABASES = {
    "default": dj_database_url.parse(
        required("DATABASE_URL"),
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "600")),
        conn_health_checks=True,
    )
}

# TASKS_ENGINE: "database" (PostgreSQL, the default) or "rq" (Redis at REDIS_URL; docs/engines.md).
TASKS, RQ_QUEUES, engine_apps = task_engine(
    os.environ.get("TASKS_ENGINE", "database").strip(), os.environ.get("REDIS_URL", "").strip()
)
INSTALLED_APPS = [*INSTALLED_APPS, *engine_apps]
RQ_MAX_PROCESSES_PER_WORKER = int(
    os.environ.get("RQ_MAX_PROCESSES_PER_WORKER", str(RQ_MAX_PROCESSES_PER_WORKER))
)
RQ_FORK_PER_JOB = flag("RQ_FORK_PER_JOB", RQ_FORK_PER_JOB)

MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": os.environ.get("EMAIL_HOST", "localhost"),
            "port": int(os.environ.get("EMAIL_PORT", "587")),
            "username": os.environ.get("EMAIL_HOST_USER", ""),
            "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
            "use_tls": flag("EMAIL_USE_TLS", True),
            "timeout": int(os.environ.get("EMAIL_TIMEOUT", "10")),
        },
    }
}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", DEFAULT_FROM_EMAIL)
SERVER_EMAIL = DEFAULT_FROM_EMAIL
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
if METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured(
        "METRICS_TOKEN is too short to keep /metrics private: use 32 or more random "
        "characters, or leave it unset to turn /metrics off."
    )
# 0 by default: with no proxy in front, X-Forwarded-For is the client's own (docs/accounts.md).
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT counts proxies: 0 or more.")
# Mail links need an address: the first allowed host serves, unless it is a pattern.
if "SITE_URL" not in os.environ and ("*" in ALLOWED_HOSTS[0] or ALLOWED_HOSTS[0][0] == "."):
    required("SITE_URL")  # Stops start-up, naming the variable.
SITE_URL = os.environ.get("SITE_URL", f"https://{ALLOWED_HOSTS[0]}").rstrip("/")

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# For a TLS proxy that sets X-Forwarded-Proto; turn off where none does (docs/production.md).
if flag("SECURE_PROXY_SSL_HEADER", True):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = flag("SECURE_SSL_REDIRECT", True)
# Platform health checks call /healthz over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = flag("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# The preload directive alone enrols nothing; submitting the domain to hstspreload.org does.
SECURE_HSTS_PRELOAD = flag("SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
