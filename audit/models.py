"""The audit trail: append-only rows saying who decided what, when, on which campaign."""
from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One decision. Never updated or deleted by the application: a changed review decision
    is a second row, so the earlier one stays readable."""

    class Action(models.TextChoices):
        REVIEW = "review", "pair review decision"
        ACTIVATE = "activate", "model activated for iteration 2"
        CAMPAIGN_CREATE = "campaign_create", "campaign created"
        CAMPAIGN_CHANGE = "campaign_change", "campaign changed"
        IMPORT = "import", "import"
        EXPORT = "export", "export"
        SNAPSHOT_START = "snapshot_start", "snapshot export started"
        TRAINING_START = "training_start", "GSE training started"
        GAME_CREATE = "game_create", "Sticktionary game created"
        GAME_CHANGE = "game_change", "Sticktionary game settings changed"
        ROUND_REVIEW = "round_review", "Sticktionary failed round reviewed"

    action = models.CharField(max_length=20, choices=Action.choices, db_index=True)
    # Who: the signed-in user; NULL for a management command or a worker acting on its own.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=150)  # kept when the user is deleted
    campaign = models.ForeignKey("annotation.Campaign", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    target = models.CharField(max_length=300)  # "pair 12 (a.png, b.png, label 1)", "snapshot 3"
    details = models.JSONField(default=dict)  # the decision's own values (before / after)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.target}"
