"""Shared argument handling of the pair-builder commands."""

from __future__ import annotations

from django.core.management.base import CommandError

from annotation.models import Campaign


def campaign_get(name: str) -> Campaign:
    try:
        return Campaign.objects.get(name=name)
    except Campaign.DoesNotExist:
        raise CommandError(f"--campaign: no campaign named {name!r}") from None
