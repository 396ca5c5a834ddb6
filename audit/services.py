"""The one write of the audit trail; every decision's service calls it (Zulip's pattern)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from audit.models import AuditEvent

NO_USER = "(command line or worker)"  # actor_name when no signed-in user made the decision


def audit_record(*, action: str, actor: AbstractBaseUser | AnonymousUser | None, target: str,
                 campaign: Any = None, details: dict[str, Any] | None = None) -> AuditEvent:
    """Append one row: who (``actor``; None for a command), what, on which campaign, when.

    Called inside the decision's own transaction, so a decision that rolls back leaves no row
    and a row never exists without its decision.
    """
    user = actor if actor is not None and actor.is_authenticated else None
    return AuditEvent.objects.create(
        action=action, actor=user, actor_name=user.get_username() if user else NO_USER,
        campaign=campaign, target=target[:300], details=details or {})
