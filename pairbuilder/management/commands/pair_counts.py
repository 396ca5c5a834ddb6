"""``manage.py pair_counts [--check | --rebuild] [campaign]``: pairs per build and label as the
database keeps them (migration pairbuilder 0003) against a direct count of the pair rows (exit
status 1 naming each figure that differs), or rewritten from the rows. ``campaign_counts`` does
the same for the campaign page's annotation counts."""

from __future__ import annotations

from annotation.management.counts_command import CountsCommand
from pairbuilder.services.pair_counts import pair_counts_check, pair_counts_rebuild


class Command(CountsCommand):
    help = ("Compare the pairs per build and label with a direct count of the pair rows "
            "(--check, the default), or rebuild them.")
    name = "pair_counts"
    counts = "pair counts"
    counts_check = pair_counts_check
    counts_rebuild = pair_counts_rebuild
