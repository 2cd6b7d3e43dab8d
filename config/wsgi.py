"""WSGI entry point for gunicorn (see config/gunicorn.py and the Procfile)."""

import os

from django.core.wsgi import get_wsgi_application

# Servers run production settings unless told otherwise; manage.py picks by environment.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.prod")

application = get_wsgi_application()
