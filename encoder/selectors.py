"""Reads for encoders: what the campaign page's model registry shows."""
from __future__ import annotations

from annotation.models import Campaign


def campaign_panel(*, campaign: Campaign) -> dict:
    """Context for the campaign page's model-registry panel."""
    return {}
