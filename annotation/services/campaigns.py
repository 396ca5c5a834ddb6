"""Campaign writes: creating an annotation campaign (paper 001, 3.2)."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from annotation.errors import InputError
from annotation.models import Campaign
from audit.models import AuditEvent
from audit.services import audit_record


@transaction.atomic
def campaign_create(
    *,
    name: str,
    candidate_count: int = 20,
    encoder_version: str = "",
    iteration2_source: str = Campaign.Iteration2Source.NEXT_PAGE,
    iteration2_encoder_version: str = "",
    annotators_per_task: int = 1,
    lease_seconds: int = 600,
    snapshot_include_unreviewed: bool = False,
    description: str = "",
    actor: AbstractBaseUser | None = None,
) -> Campaign:
    """Creates a campaign; candidate sets are built separately (``candidate_sets_build``).

    ``iteration2_source`` says what makes iteration 2 differ from iteration 1 (SPEC.md):
    ``retrained`` needs ``iteration2_encoder_version`` before iteration 2 is built, which may
    be registered later, once a GSE is trained on iteration 1's pairs.
    """
    name = name.strip()
    if not name:
        raise InputError("name", "a campaign needs a name")
    if Campaign.objects.filter(name=name).exists():
        raise InputError("name", f"a campaign named {name!r} already exists")
    if candidate_count < 1:
        raise InputError("candidate_count", f"must be at least 1, not {candidate_count}")
    if annotators_per_task < 1:
        raise InputError("annotators_per_task", f"must be at least 1, not {annotators_per_task}")
    if iteration2_source not in Campaign.Iteration2Source.values:
        raise InputError(
            "iteration2_source",
            f"{iteration2_source!r} is not one of {', '.join(Campaign.Iteration2Source.values)}",
        )
    campaign = Campaign.objects.create(
        name=name,
        description=description,
        candidate_count=candidate_count,
        encoder_version=encoder_version,
        iteration2_source=iteration2_source,
        iteration2_encoder_version=iteration2_encoder_version,
        annotators_per_task=annotators_per_task,
        lease_seconds=lease_seconds,
        snapshot_include_unreviewed=snapshot_include_unreviewed,
    )
    audit_record(action=AuditEvent.Action.CAMPAIGN_CREATE, actor=actor, campaign=campaign,
                 target=f"campaign {campaign.name}", details=campaign_settings(campaign))
    return campaign


def campaign_settings(campaign: Campaign) -> dict:
    """The campaign's editable fields as JSON-ready values (what the audit trail records)."""
    return {f.name: f.value_from_object(campaign) for f in Campaign._meta.concrete_fields
            if f.editable and not f.primary_key}


@transaction.atomic
def campaign_change(*, campaign: Campaign, before: dict, actor: AbstractBaseUser | None
                    ) -> Campaign:
    """Record a change made to a saved campaign (the admin's form): field, before, after."""
    after = campaign_settings(campaign)
    changed = {k: {"before": before.get(k), "after": v} for k, v in after.items()
               if before.get(k) != v}
    if changed:
        audit_record(action=AuditEvent.Action.CAMPAIGN_CHANGE, actor=actor, campaign=campaign,
                     target=f"campaign {campaign.name}", details=changed)
    return campaign
