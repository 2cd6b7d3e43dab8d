import dj_database_url

from .base import *  # noqa: F403

SECRET_KEY = "insecure-test-only"
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

# In-memory SQLite by default; .ci/run sets DATABASE_URL to run the suite on PostgreSQL too.
DATABASES = {"default": dj_database_url.config(default="sqlite://:memory:")}

# Tasks run inside .enqueue(), so tests need no worker process.
TASKS = tasks_backend("django.tasks.backends.immediate.ImmediateBackend")

# Django's test runner swaps every mailer for locmem, so sent mail lands in mail.outbox.
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Hashing is deliberately slow; tests don't need that.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Serve static files straight from static/, with no collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STORAGES = {
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
