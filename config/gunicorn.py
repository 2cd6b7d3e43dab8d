"""gunicorn settings, read from the environment a platform provides."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Sync workers; slow work belongs in tasks, so a request should never need more than this.
timeout = 30
# On SIGTERM, requests in progress get this long to finish (platforms allow about 30 s).
graceful_timeout = 25
accesslog = "-"
# No forwarded_allow_ips: Django reads X-Forwarded-Proto itself (SECURE_PROXY_SSL_HEADER
# in config/settings/prod.py), and gunicorn passes the header through either way.
# gunicorn's runtime control socket is not needed here; the platform stops and scales us.
control_socket_disable = True
