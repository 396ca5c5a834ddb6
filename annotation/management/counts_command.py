"""The shape of the count-checking commands (``campaign_counts``, ``pair_counts``): kept counts
against a direct count of the rows (``--check``, the default; exit status 1 naming each figure
that differs), or rewritten from the rows (``--rebuild``), for one campaign or all."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.core.management.base import BaseCommand, CommandError

from annotation.models import Campaign


class CountsCommand(BaseCommand):
    """Subclasses name what they count and give the service functions (each takes
    ``campaign=``, a Campaign or None for all)."""

    counts = "counts"  # "the <counts> of campaign x equal a direct count of the rows"
    counts_check: Callable[..., Sequence[object]]
    counts_rebuild: Callable[..., None]

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
            type(self).counts_rebuild(campaign=target)
            self.stdout.write(f"rebuilt the {self.counts} of {scope}")
            return
        mismatches = type(self).counts_check(campaign=target)
        for mismatch in mismatches:
            self.stderr.write(str(mismatch))
        if mismatches:
            raise CommandError(f"{len(mismatches)} of the {self.counts} of {scope} differ from "
                               f"the rows (first: {mismatches[0]}); `{self.name} --rebuild` "
                               "rewrites them")
        self.stdout.write(f"the {self.counts} of {scope} equal a direct count of the rows")
