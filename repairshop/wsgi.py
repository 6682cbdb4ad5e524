"""WSGI entry point: `gunicorn repairshop.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "repairshop.settings")

application = get_wsgi_application()
