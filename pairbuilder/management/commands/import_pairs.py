"""manage.py import_pairs CSV [--campaign NAME]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.errors import InputError
from pairbuilder import services


class Command(BaseCommand):
    help = "Imports published Triple-S pairs (sticker_id,sticker_id_2,label) as a pair build."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv", help="Triple-S pair file")
        parser.add_argument("--campaign", default=None,
                            help="campaign to hold the pairs (default imported:<file name>)")

    def handle(self, *args, csv: str, campaign: str | None, **options) -> None:
        try:
            report = services.pairs_import(csv_path=csv, campaign_name=campaign)
        except InputError as exc:
            raise CommandError(str(exc)) from None
        for line in report.unknown[:20] + report.problems[:20]:
            self.stderr.write(line)
        self.stdout.write(f"{report.rows} rows: {report.imported} pairs imported into build "
                          f"{report.build.id} ({report.build.campaign.name}), "
                          f"{len(report.unknown)} unknown sticker rows, "
                          f"{len(report.problems)} problem rows")
