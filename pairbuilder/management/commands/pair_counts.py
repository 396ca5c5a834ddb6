"""``manage.py pair_counts [--check | --rebuild] [campaign]``: pairs per build and label as the
database keeps them (migration pairbuilder 0003) against a direct count of the pair rows (exit
status 1 naming each figure that differs), or rewritten from the rows. ``campaign_counts`` does
the same for the campaign page's annotation counts."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from annotation.models import Campaign
from pairbuilder.services.pair_counts import pair_counts_check, pair_counts_rebuild


class Command(BaseCommand):
    help = ("Compare the pairs per build and label with a direct count of the pair rows "
            "(--check, the default), or rebuild them.")

    def add_arguments(self, parser) -> None:
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--check", action="store_true", help="compare (the default)")
        action.add_argument("--rebuild", action="store_true", help="rewrite from the rows")
        parser.add_argument("campaign", nargs="?", help="a campaign's name (default: all)")

    def handle(self, *args, check: bool, rebuild: bool, campaign: str | None,
               **options) -> None:
        target = None
        if campaign is not None:
            target = Campaign.objects.filter(name=campaign).first()
            if target is None:
                raise CommandError(f"no campaign named {campaign!r}")
        scope = f"campaign {campaign}" if campaign else "every campaign"
        if rebuild:
            pair_counts_rebuild(campaign=target)
            self.stdout.write(f"rebuilt the pair counts of {scope}")
            return
        mismatches = pair_counts_check(campaign=target)
        for mismatch in mismatches:
            self.stderr.write(str(mismatch))
        if mismatches:
            raise CommandError(f"{len(mismatches)} pair count(s) of {scope} differ from the "
                               f"rows (first: {mismatches[0]}); `pair_counts --rebuild` "
                               "rewrites them")
        self.stdout.write(f"the pair counts of {scope} equal a direct count of the rows")
