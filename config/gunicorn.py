"""gunicorn settings, read from the environment a platform provides.

Threads, not more sync processes: a password hash holds a core (20 ms for Argon2id as
shipped, up to a third of a second for hashes made before, until their members log in)
but releases the GIL, so a threaded worker keeps answering cheap requests on its other
threads while one hashes. A sync worker answers nothing else until its hash is done,
and every request queued behind it waits. docs/web.md has the numbers, measured with
bench/web.py.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"

# One process per core we may use (platforms set WEB_CONCURRENCY themselves).
workers = int(os.environ.get("WEB_CONCURRENCY", getattr(os, "process_cpu_count", os.cpu_count)()))
worker_class = "gthread"
# Many threads, because a burst of logins must not take them all: a request waits for a
# free thread in arrival order, behind any slow ones. Those mostly sleep, waiting their
# turn to hash (accounts/hashers.py), so idle threads cost little CPU; and at most
# WEB_THREADS - 2 of them wait to hash (PASSWORD_HASHING_LINE reads this variable too).
# Each thread may keep a database connection open once it has used one: a machine holds
# up to WEB_CONCURRENCY x WEB_THREADS (docs/web.md).
threads = int(os.environ.get("WEB_THREADS", "32"))
# A process takes no more connections than it has threads. Left at gunicorn's 1,000, the
# first process to wake takes most of a burst (31 of 40 signups in bench/web.py) while
# the other idles; capped, the rest wait in the listen queue for whichever process frees
# a thread first. Every response then closes its connection, as a sync worker's does,
# and a connection that sends nothing for 5 s is closed (gunicorn's wait for a first
# byte) rather than kept.
worker_connections = threads
keepalive = 0

# For gthread workers this is not a per-request limit as it is for sync workers: the
# worker's main thread reports to the arbiter every second while requests run on the
# others, so a slow request is never cut off. It still kills and replaces a worker whose
# main loop has stopped (a deadlock, a C call that never releases the GIL). Nothing else
# stops a long request in its thread, and none should run long: slow work is in tasks,
# and a platform's router stops waiting for an answer after about 30 s.
timeout = 30
# On SIGTERM, requests in progress get this long to finish (platforms allow about 30 s).
graceful_timeout = 25
accesslog = "-"
# Confirmation and reset links carry their token in the path: not in the log.
logger_class = "safeguards.redaction.RedactingLogger"
# No forwarded_allow_ips: Django reads X-Forwarded-Proto itself (SECURE_PROXY_SSL_HEADER
# in config/settings/prod.py), and gunicorn passes the header through either way.
# gunicorn's runtime control socket is not needed here; the platform stops and scales us.
control_socket_disable = True
