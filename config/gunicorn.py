"""gunicorn settings, read from the environment a platform provides."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Sync workers; slow work belongs in tasks, so a request should never need more than this.
timeout = 30
graceful_timeout = 25
accesslog = "-"
# Platforms terminate TLS in front of us; trust their X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's runtime control socket is not needed here; the platform stops and scales us.
control_socket_disable = True
