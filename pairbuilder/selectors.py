"""Reads for the pair builder: what the campaign page and the review queue show."""
from __future__ import annotations

from annotation.models import Campaign


def campaign_panel(*, campaign: Campaign) -> dict:
    """Context for the campaign page's pair-build and snapshot panel."""
    return {}
