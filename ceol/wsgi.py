"""WSGI entry point for gunicorn (`gunicorn ceol.wsgi`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ceol.settings")

application = get_wsgi_application()
