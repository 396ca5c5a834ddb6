"""The Celery application.

Two queues: ``gpu`` for embedding, retrieval and training (run one worker per GPU with
``-Q gpu``), and ``default`` for everything else. Without ``REDIS_URL`` the broker is the
project's PostgreSQL (``jobs.broker``, URL ``stickersim-pg://``): still a worker process, never
the web request.
"""
import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

TRANSPORT_ALIASES["stickersim-pg"] = "jobs.broker:Transport"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("stickersim")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()  # every app's tasks.py: the only modules that hold Celery tasks
