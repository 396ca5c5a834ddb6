"""``manage.py export_queries --language en|zh OUT.csv``: queries as a StickerQueries CSV."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import InputError
from annotation.models import Query
from game.services.queries_io import queries_export


class Command(BaseCommand):
    help = ("Write the library's queries in one language as a StickerQueries CSV "
            "(sticker_id,labeled_queries); import_queries reads it back.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("out_path", type=Path, help="the CSV file to write")
        parser.add_argument("--language", required=True, help="en, zh")
        parser.add_argument("--source", default="", choices=["", *Query.Source.values],
                            help="only queries from this source (default: all)")

    def handle(self, *args, out_path: Path, language: str, source: str, **options) -> None:
        try:
            rows = queries_export(language=language, out_path=out_path, source=source)
        except InputError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{rows} stickers written to {out_path}")
