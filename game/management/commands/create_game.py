"""``manage.py create_game NAME``: a Sticktionary game over the library (or new settings)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import InputError
from game.services.games import game_create


class Command(BaseCommand):
    help = "Create a Sticktionary game (or update its settings); players play at /play/NAME/."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("--labelers-per-sticker", type=int, default=3,
                            help="labelers per sticker and language (default 3)")
        parser.add_argument("--candidates", type=int, default=9,
                            help="stickers on the retriever's grid, target included (default 9)")
        parser.add_argument("--encoder-version", default="",
                            help="embeddings that pick look-alike distractors (default: newest)")

    def handle(self, *args, name: str, labelers_per_sticker: int, candidates: int,
               encoder_version: str, **options) -> None:
        try:
            game = game_create(name=name, labelers_per_sticker=labelers_per_sticker,
                               candidate_count=candidates, encoder_version=encoder_version)
        except InputError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"game {game.name}: {game.labelers_per_sticker} labelers per sticker, "
                          f"{game.candidate_count} candidates; play at /play/{game.name}/")
