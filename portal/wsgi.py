"""WSGI entry point (gunicorn in production, runserver in the embedded default)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_wsgi_application()

# In the embedded default the web process also integrates the ledger: no extra process.
from django.conf import settings  # noqa: E402

if settings.LEDGER_SEQUENCER == "thread":
    from anchoring.sequencer import start_thread

    start_thread()
