"""``manage.py campaign_counts [--check | --rebuild] [campaign]``: the campaign page's counts
against a direct count of the rows (exit status 1 naming each figure that differs), or
rewritten from the rows."""

from __future__ import annotations

from annotation.management.counts_command import CountsCommand
from annotation.services.campaign_counts import campaign_counts_check, campaign_counts_rebuild


class Command(CountsCommand):
    help = ("Compare the campaign counts (progress, answers per hour, per annotator, overlap) "
            "with a direct count of the rows (--check, the default), or rebuild them.")
    name = "campaign_counts"
    counts_check = campaign_counts_check
    counts_rebuild = campaign_counts_rebuild
