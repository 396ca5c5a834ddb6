"""Celery tasks of the encoder app (routed to the ``gpu`` queue by CELERY_TASK_ROUTES).

Each takes ids, loads the rows and calls one service; the service owns the work.
"""

from __future__ import annotations

from celery import shared_task

from annotation.models import Campaign
from encoder.models import EncoderVersion
from encoder.services import candidate_sets_build, stickers_embed


@shared_task
def embed_stickers_task(*, encoder_version_id: int, batch_size: int | None = None) -> int:
    """Embeds the stickers still missing for one encoder version; returns how many."""
    version = EncoderVersion.objects.get(id=encoder_version_id)
    return stickers_embed(encoder_version=version, batch_size=batch_size)


@shared_task
def build_candidates_task(*, campaign_id: int, iteration: int) -> int:
    """Builds one iteration's candidate sets and tasks; returns how many sets."""
    campaign = Campaign.objects.get(id=campaign_id)
    return candidate_sets_build(campaign=campaign, iteration=iteration)
