"""Games: the settings of one Sticktionary over the library. Creating a game and changing its
settings write the audit trail (``audit_record``) in the same transaction."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from annotation.errors import InputError
from audit.models import AuditEvent
from audit.services import audit_record
from game.models import Game

MAX_CANDIDATES = 30  # a grid the retriever can still take in at a glance


def game_settings(game: Game) -> dict[str, Any]:
    """The game's editable fields as JSON-ready values (what the audit trail records)."""
    return {f.name: f.value_from_object(game) for f in Game._meta.concrete_fields
            if f.editable and not f.primary_key}


def game_settings_check(*, name: str, labelers_per_sticker: int, candidate_count: int,
                        lease_seconds: int) -> None:
    """Refuses settings no game can be played with, naming the field."""
    if not name or len(name) > Game._meta.get_field("name").max_length or "/" in name:
        raise InputError("name", "1 to 200 characters, no '/'")
    if labelers_per_sticker < 1:
        raise InputError("labelers_per_sticker", "at least 1")
    if not 2 <= candidate_count <= MAX_CANDIDATES:
        raise InputError("candidate_count", f"between 2 and {MAX_CANDIDATES}")
    if lease_seconds < 10:
        raise InputError("lease_seconds", "at least 10")


@transaction.atomic
def game_create(*, name: str, labelers_per_sticker: int = 3, candidate_count: int = 9,
                encoder_version: str = "", lease_seconds: int = 600,
                actor: AbstractBaseUser | None = None) -> Game:
    """Creates a game, or updates the settings of the game of that name (idempotent: a demo or
    deploy script may run it every time). The audit trail gets the creation, or the fields that
    changed (nothing when none did); ``actor`` None is a command."""
    name = name.strip()
    game_settings_check(name=name, labelers_per_sticker=labelers_per_sticker,
                        candidate_count=candidate_count, lease_seconds=lease_seconds)
    existing = Game.objects.select_for_update().filter(name=name).first()
    before = game_settings(existing) if existing is not None else None
    game, _ = Game.objects.update_or_create(name=name, defaults={
        "labelers_per_sticker": labelers_per_sticker, "candidate_count": candidate_count,
        "encoder_version": encoder_version, "lease_seconds": lease_seconds})
    if before is None:
        audit_record(action=AuditEvent.Action.GAME_CREATE, actor=actor, target=f"game {name}",
                     details=game_settings(game))
    else:
        game_change(game=game, before=before, actor=actor)
    return game


@transaction.atomic
def game_change(*, game: Game, before: dict[str, Any], actor: AbstractBaseUser | None
                ) -> Game:
    """Records a change made to a saved game (the admin's form, or ``game_create`` again):
    field, before, after; nothing when no field changed."""
    after = game_settings(game)
    changed = {k: {"before": before.get(k), "after": v} for k, v in after.items()
               if before.get(k) != v}
    if changed:
        audit_record(action=AuditEvent.Action.GAME_CHANGE, actor=actor,
                     target=f"game {game.name}", details=changed)
    return game
