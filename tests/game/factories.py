"""Game fixtures built from rows: stickers (real small files), a game, players per language."""

from __future__ import annotations

import numpy as np

from annotation.models import Query, Sticker
from encoder.models import EncoderVersion, StickerEmbedding
from game.models import Game, Player
from tests.annotation.campaign_factory import annotator_create, png_bytes, sticker_create


def stickers_create(n: int, prefix: str = "g") -> list[Sticker]:
    return [sticker_create(f"{prefix}{i:03d}.png", png_bytes(i + 7)) for i in range(n)]


def game_create(name: str = "g1", **settings) -> Game:
    return Game.objects.create(name=name, **settings)


def player_create(username: str, language: str = "en", *, staff: bool = False):
    user = annotator_create(username, staff=staff)
    Player.objects.create(user=user, language=language)
    return user


def queries_add(sticker: Sticker, *texts: str, language: str = "en") -> None:
    from annotation.queries_text import query_normalize

    Query.objects.bulk_create(Query(sticker=sticker, text=t, normalized=query_normalize(t),
                                    language=language) for t in texts)


def embeddings_add(stickers: list[Sticker], vectors: np.ndarray, version: str = "v1") -> None:
    """Stores one float32 vector per sticker under ``version`` (as the embed job does), with
    the version's EncoderVersion row, made when missing."""
    row, _ = EncoderVersion.objects.get_or_create(
        version=version, defaults={"kind": EncoderVersion.Kind.BASE, "model_name": "test"})
    StickerEmbedding.objects.bulk_create(
        StickerEmbedding(sticker=s, encoder_version=row, dim=vectors.shape[1],
                         vector=np.asarray(v, "<f4").tobytes())
        for s, v in zip(stickers, vectors, strict=True))
