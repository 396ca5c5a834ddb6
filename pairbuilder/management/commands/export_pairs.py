"""manage.py export_pairs --campaign NAME OUT.csv"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.errors import InputError
from pairbuilder import services
from pairbuilder.management.commands._common import campaign_get


class Command(BaseCommand):
    help = "Writes every pair of the campaign's latest build with its evidence and review."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--campaign", required=True, help="campaign name")
        parser.add_argument("out", help="output .csv file")

    def handle(self, *args, campaign: str, out: str, **options) -> None:
        try:
            n = services.pairs_export_csv(campaign=campaign_get(campaign), out_path=out)
        except InputError as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(f"{n} pair(s) written to {out}")
