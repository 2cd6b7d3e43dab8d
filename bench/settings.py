"""Benchmark settings: the e2e settings, with what a measurement varies read from the env."""

import os

from config.settings.e2e import *  # noqa: F403

# Signup hashes a password; with the real hasher that takes longer than everything being
# measured, so the benchmark uses a fast one to let the task backend's cost show.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if os.environ.get("BENCH_BACKEND") == "immediate":
    TASKS = tasks_backend("django.tasks.backends.immediate.ImmediateBackend")

# Django's defaults are CONN_MAX_AGE=0 (a new connection per request, or per worker
# loop) and no health checks; the shipped settings keep connections for 10 minutes.
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("CONN_MAX_AGE", "600"))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = os.environ.get("CONN_HEALTH_CHECKS", "1") == "1"

# Per-task log lines would measure the terminal, not the worker.
LOGGING["loggers"]["worker"] = {"level": "WARNING"}
LOGGING["loggers"]["django.tasks"] = {"level": "WARNING"}
LOGGING["loggers"]["django_tasks_db"] = {"level": "WARNING"}
LOGGING["loggers"]["rq.worker"] = {"level": "WARNING"}

# The bench's clients all connect from 127.0.0.1; each signup says who it is in
# X-Forwarded-For, as a platform's router would, so the per-client signup limit sees
# different people rather than one client signing up fifty times.
TRUSTED_PROXY_COUNT = 1

# One RQ worker process, against one database-engine process (bench/throughput.py).
RQ_MAX_PROCESSES_PER_WORKER = int(
    os.environ.get("RQ_MAX_PROCESSES_PER_WORKER", str(RQ_MAX_PROCESSES_PER_WORKER))
)
# The general process type with more threads than it ships with.
if threads := os.environ.get("BENCH_GENERAL_THREADS"):
    WORKER_PROCESSES = {
        **WORKER_PROCESSES,
        "general": {**WORKER_PROCESSES["general"], "threads": int(threads)},
    }
