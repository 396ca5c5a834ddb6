"""``manage.py import_queries CSV --language en|zh``: StickerQueries search queries."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import InputError
from annotation.models import Query
from annotation.services import queries_import


class Command(BaseCommand):
    help = ("Import search queries from a StickerQueries CSV (sticker_id,labeled_queries), "
            "matched to stickers by file name. Rows for unknown stickers are reported and skipped.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("csv_path", type=Path, help="the CSV file")
        parser.add_argument("--language", required=True, help="language of the queries: en, zh")
        parser.add_argument("--source", default=Query.Source.IMPORT,
                            choices=Query.Source.values, help="recorded with every query")

    def handle(self, *args, csv_path: Path, language: str, source: str, **options) -> None:
        try:
            report = queries_import(csv_path=csv_path, language=language, source=source)
        except InputError as exc:
            raise CommandError(str(exc)) from exc
        for line in report.unknown + report.problems:
            self.stderr.write(line)
        self.stdout.write(report.summary())
        if report.rows and not report.stickers_matched:
            raise CommandError(f"{csv_path.name}: no row matched a sticker in the library "
                               "(import the stickers first)")
