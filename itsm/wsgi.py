"""WSGI entry point: `gunicorn itsm.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itsm.settings")

application = get_wsgi_application()

# SQLite (the quick start) has no job queue of its own: this web process runs the jobs
# (core.jobs). On PostgreSQL this does nothing; `manage.py run_worker` runs them.
from core.jobs import start_in_process_worker  # noqa: E402

start_in_process_worker()
