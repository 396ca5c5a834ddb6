"""The project's WSGI app with the URLconf (and every view module) imported at worker start,
so that no benchmark request pays for it (gunicorn loads this in each worker before serving)."""
from django.urls import get_resolver

from config.wsgi import application  # noqa: F401

get_resolver().url_patterns  # noqa: B018  (importing the views is the point)
