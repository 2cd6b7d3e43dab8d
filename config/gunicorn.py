"""gunicorn settings, read from the environment a platform provides.

Threaded workers keep answering pages while a thread hashes a password (docs/web.md).
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"

# One process per core we may use, unless the platform sets WEB_CONCURRENCY.
workers = int(os.environ.get("WEB_CONCURRENCY", getattr(os, "process_cpu_count", os.cpu_count)()))
worker_class = "gthread"
# Enough that logins asleep waiting to hash leave threads for pages (PASSWORD_HASHING_LINE); each
# may keep a database connection: up to WEB_CONCURRENCY x WEB_THREADS per machine (docs/web.md).
threads = int(os.environ.get("WEB_THREADS", "32"))
# No more connections than threads, so one process can't take a whole burst; no room is
# left for kept-alive ones, so each response closes its connection (docs/web.md).
worker_connections = threads
keepalive = 0

# gthread: replaces a worker whose main loop hangs; a slow request is never cut off (docs/web.md).
timeout = 30
# On SIGTERM, requests in progress get this long to finish (platforms allow about 30 s).
graceful_timeout = 25
accesslog = "-"
# Confirmation and reset links carry their token in the path: not in the log.
logger_class = "safeguards.redaction.RedactingLogger"
# No forwarded_allow_ips or control socket: Django and the platform do that (docs/production.md).
control_socket_disable = True
