"""``manage.py embed_search_terms``: the text tower's vectors of the search vocabulary, so the
web search can rank stickers without queries (``game.tower``). Loads the model: run it on a
machine where torch is installed (a worker host), again after many new queries."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import InputError
from encoder.spec import EncoderError
from game.models import Language
from game.services.tower import encoder_version_named, term_vectors_compute


class Command(BaseCommand):
    help = ("Embed every search term (the BM25 vocabulary) per language with the encoder's CLIP "
            "text tower; the library search then blends in stickers without queries.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--encoder-version", default="",
                            help="default: the active encoder (newest GSE, else newest version)")
        parser.add_argument("--language", action="append", choices=Language.values,
                            help="repeatable; default: every game language")

    def handle(self, *args, encoder_version: str, language: list[str] | None, **options) -> None:
        try:
            row = encoder_version_named(encoder_version or None)
            for lang in language or Language.values:
                n = term_vectors_compute(encoder_version=row, language=lang)
                self.stdout.write(f"{lang}: {n} terms embedded with {row.version}")
        except (InputError, EncoderError) as exc:
            raise CommandError(str(exc)) from exc
