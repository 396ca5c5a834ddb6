"""``manage.py evaluate_query_retrieval --language en|zh [--encoder [VERSION]]``: Recall@K of
held-out queries (seed 002, Table 6) over the library's queries or a StickerQueries CSV with
BM25, and with ``--encoder`` the text-to-sticker Recall@K of the encoder's text tower on the
same held-out queries (seed 003, StickerCLIP: text-to-image mean recall)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import InputError
from annotation.models import Query
from encoder.spec import EncoderError
from game.services.queries_io import csv_queries, library_queries, query_retrieval_evaluate

ACTIVE = "active"


class Command(BaseCommand):
    help = ("BM25 Recall@1/5/10/50 per language. The index: the library's queries (--source to "
            "take one source) or --csv FILE. Held out: --held-out FILE's queries, or else half "
            "of each sticker's own queries (seeded split). --encoder [VERSION] adds the "
            "text-to-sticker recall of the encoder's text tower (default: the active GSE).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--language", required=True, help="en, zh (zh is cut with jieba)")
        parser.add_argument("--csv", type=Path, default=None,
                            help="index this StickerQueries CSV instead of the library")
        parser.add_argument("--source", default="", choices=["", *Query.Source.values],
                            help="index only the library's queries from this source")
        parser.add_argument("--held-out", type=Path, default=None,
                            help="a StickerQueries CSV of the queries to retrieve")
        parser.add_argument("--seed", type=int, default=0, help="seed of the split in two")
        parser.add_argument("--encoder", nargs="?", const=ACTIVE, default=None,
                            metavar="VERSION",
                            help="also the text tower's text-to-sticker recall (loads the model)")

    def handle(self, *args, language: str, csv: Path | None, source: str,
               held_out: Path | None, seed: int, encoder: str | None, **options) -> None:
        try:
            report = query_retrieval_evaluate(language=language, csv_path=csv, source=source,
                                              held_out_csv=held_out, seed=seed)
            for line in report.lines():
                self.stdout.write(line)
            if encoder is not None:
                from game.services.tower import query_retrieval_evaluate_encoder

                docs = csv_queries(csv) if csv else library_queries(language=language,
                                                                    source=source)
                tower = query_retrieval_evaluate_encoder(
                    language=language, docs=docs, seed=seed,
                    held_out_csv_docs=csv_queries(held_out) if held_out else None,
                    encoder_version=None if encoder == ACTIVE else encoder)
                for line in tower.lines():
                    self.stdout.write(line)
        except (InputError, EncoderError) as exc:
            raise CommandError(str(exc)) from exc
