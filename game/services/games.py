"""Games: the settings of one Sticktionary over the library."""

from __future__ import annotations

from annotation.errors import InputError
from game.models import Game

MAX_CANDIDATES = 30  # a grid the retriever can still take in at a glance


def game_create(*, name: str, labelers_per_sticker: int = 3, candidate_count: int = 9,
                encoder_version: str = "", lease_seconds: int = 600) -> Game:
    """Creates a game, or updates the settings of the game of that name (idempotent: a demo or
    deploy script may run it every time)."""
    name = name.strip()
    if not name or len(name) > Game._meta.get_field("name").max_length or "/" in name:
        raise InputError("name", "1 to 200 characters, no '/'")
    if labelers_per_sticker < 1:
        raise InputError("labelers_per_sticker", "at least 1")
    if not 2 <= candidate_count <= MAX_CANDIDATES:
        raise InputError("candidate_count", f"between 2 and {MAX_CANDIDATES}")
    if lease_seconds < 10:
        raise InputError("lease_seconds", "at least 10")
    game, _ = Game.objects.update_or_create(name=name, defaults={
        "labelers_per_sticker": labelers_per_sticker, "candidate_count": candidate_count,
        "encoder_version": encoder_version, "lease_seconds": lease_seconds})
    return game
