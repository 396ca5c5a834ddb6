"""Queued and running jobs of the PostgreSQL broker, read-only in the admin."""
from django.contrib import admin

from jobs.models import QueueMessage


@admin.register(QueueMessage)
class QueueMessageAdmin(admin.ModelAdmin):
    list_display = ("id", "queue", "task", "deliveries", "delivered_at", "created_at")
    list_filter = ("queue",)

    @admin.display(description="task")
    def task(self, obj: QueueMessage) -> str:
        import json

        return json.loads(obj.payload).get("headers", {}).get("task", "")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
