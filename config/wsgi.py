"""WSGI entry point (gunicorn config.wsgi)."""
import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Import every view module at start, not in some annotator's first request: the URLconf pulls
# in the encoder API and with it torch and OpenCLIP. Then take the ~600,000 objects of those
# imports out of the garbage collector's sight: they live as long as the process, and every
# full collection over them is a ~300 ms pause in the middle of a request (it was the load
# benchmark's p99). Objects made later are collected as usual.
get_resolver().url_patterns  # noqa: B018  (importing the views is the point)
gc.freeze()
