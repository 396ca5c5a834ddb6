"""The Celery application.

Two queues: ``gpu`` for embedding, retrieval and training (run one worker per GPU with
``-Q gpu``), and ``default`` for everything else. Without ``REDIS_URL`` tasks run inline.
"""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("stickersim")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
