"""``manage.py evaluate_query_retrieval --language en|zh``: BM25 Recall@K of held-out queries
(seed 002, Table 6) over the library's queries or a StickerQueries CSV."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import InputError
from annotation.models import Query
from game.services.queries_io import query_retrieval_evaluate


class Command(BaseCommand):
    help = ("BM25 Recall@1/5/10/50 per language. The index: the library's queries (--source to "
            "take one source) or --csv FILE. Held out: --held-out FILE's queries, or else half "
            "of each sticker's own queries (seeded split).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--language", required=True, help="en, zh (zh is cut with jieba)")
        parser.add_argument("--csv", type=Path, default=None,
                            help="index this StickerQueries CSV instead of the library")
        parser.add_argument("--source", default="", choices=["", *Query.Source.values],
                            help="index only the library's queries from this source")
        parser.add_argument("--held-out", type=Path, default=None,
                            help="a StickerQueries CSV of the queries to retrieve")
        parser.add_argument("--seed", type=int, default=0, help="seed of the split in two")

    def handle(self, *args, language: str, csv: Path | None, source: str,
               held_out: Path | None, seed: int, **options) -> None:
        try:
            report = query_retrieval_evaluate(language=language, csv_path=csv, source=source,
                                              held_out_csv=held_out, seed=seed)
        except InputError as exc:
            raise CommandError(str(exc)) from exc
        for line in report.lines():
            self.stdout.write(line)
