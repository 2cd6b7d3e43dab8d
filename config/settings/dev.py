import os

import dj_database_url

from .base import *  # noqa: F403

DEBUG = True
SECRET_KEY = "insecure-development-only"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]

# Local state (database, mail) lives in var/, which git ignores.
(BASE_DIR / "var").mkdir(exist_ok=True)

# DEV_DATABASE_URL names another database (PostgreSQL, or a browser test's throwaway file).
# Not DATABASE_URL: a shell that holds production's must not point development at it.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DEV_DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = sqlite_shared_options

# Tasks are stored in the database and run by `manage.py runworker` (see Procfile.dev).
TASKS = tasks_backend("django_tasks_db.DatabaseBackend")

# Each email is written to a file under var/mail/, so you can open the confirmation link.
MAILERS = {
    "default": {
        "BACKEND": "config.mail.ReadableFileEmailBackend",
        "OPTIONS": {"file_path": BASE_DIR / "var" / "mail"},
    }
}

# Let webhooks reach a receiver on this machine.
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True

# django-debug-toolbar, a development dependency only (the image installs none): its Tasks
# panel lists what each request enqueued. Early, as its docs ask; its scripts and styles are
# static files, which the CSP allows from 'self' (docs/frontend.md).
INSTALLED_APPS = [*INSTALLED_APPS, "debug_toolbar"]
csp = MIDDLEWARE.index("django.middleware.csp.ContentSecurityPolicyMiddleware")
MIDDLEWARE = [
    *MIDDLEWARE[: csp + 1],
    "debug_toolbar.middleware.DebugToolbarMiddleware",
    *MIDDLEWARE[csp + 1 :],
]
INTERNAL_IPS = ["127.0.0.1", "::1"]
