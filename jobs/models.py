"""The queue table of the PostgreSQL broker (``jobs.broker``): one row per queued Celery message.

A row lives from publish to acknowledgement. While a worker runs its task the worker's database
session holds an advisory lock on the row; a worker that dies (SIGKILL, power loss) loses its
session and with it the lock, so the next worker to poll takes the message up again.
"""
from django.db import models


class QueueMessage(models.Model):
    """A Celery message waiting for, or being worked on by, a worker."""

    queue = models.CharField(max_length=200)
    payload = models.TextField()  # the kombu message as JSON, exactly as published
    delivery_tag = models.CharField(max_length=64, db_index=True)
    deliveries = models.PositiveIntegerField(default=0)  # > 1: taken up again after a crash
    delivered_at = models.DateTimeField(null=True, blank=True)  # last time a worker took it
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["queue", "id"], name="queue_message_fifo")]

    def __str__(self) -> str:
        return f"{self.queue} #{self.pk}"
