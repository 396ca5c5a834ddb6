"""The retriever's grid: the target plus distractors, most of them its nearest neighbours under
the game's encoder, so that a round is not won by spotting the only cat (seed 002, 4.4: most
failures come from "a flood of semantically similar stickers", which is the point).

Embeddings are read as stored (``encoder.StickerEmbedding``) with NumPy, never torch: a web
request must not load a model. The scan is linear in the version's stickers, page by page.
"""

from __future__ import annotations

import math
import random

import numpy as np

from annotation.models import Sticker
from encoder.models import StickerEmbedding
from game.models import Game

# Share of the distractors taken from the nearest neighbours; the rest are random stickers, so
# the grid is hard but the target does not stand out as "the one unlike the others".
NEIGHBOUR_SHARE = 0.75
# Embeddings read per query: 5,000 x 512 float32 = 10 MB at a time.
EMBEDDING_PAGE = 5_000


def _encoder_version(game: Game, sticker_pk: int) -> StickerEmbedding | None:
    """The target's embedding under the game's encoder, or the newest one stored."""
    rows = StickerEmbedding.objects.filter(sticker_id=sticker_pk)
    if game.encoder_version:
        rows = rows.filter(encoder_version=game.encoder_version)
    return rows.order_by("-created_at", "-id").first()


def nearest_stickers(*, embedding: StickerEmbedding, k: int) -> list[int]:
    """The k stickers nearest to ``embedding``'s sticker by cosine, under its version (itself
    left out), nearest first."""
    query = np.frombuffer(bytes(embedding.vector), "<f4").astype(np.float32)  # (D,)
    norm = float(np.linalg.norm(query))
    if norm == 0 or k <= 0:
        return []
    query /= norm
    rows = (StickerEmbedding.objects.filter(encoder_version=embedding.encoder_version,
                                            dim=embedding.dim)
            .exclude(sticker_id=embedding.sticker_id).order_by("sticker_id"))
    best_ids = np.empty(0, dtype=np.int64)
    best_scores = np.empty(0, dtype=np.float32)
    last = -1
    while page := list(rows.filter(sticker_id__gt=last)
                       .values_list("sticker_id", "vector")[:EMBEDDING_PAGE]):
        last = page[-1][0]
        ids = np.fromiter((pk for pk, _ in page), dtype=np.int64, count=len(page))
        matrix = np.frombuffer(b"".join(bytes(v) for _, v in page), "<f4").reshape(
            len(page), embedding.dim)  # (P, D)
        norms = np.linalg.norm(matrix, axis=1)
        scores = (matrix @ query) / np.where(norms == 0, 1, norms)  # (P,)
        best_scores = np.concatenate([best_scores, scores.astype(np.float32)])
        best_ids = np.concatenate([best_ids, ids])
        keep = np.argsort(-best_scores, kind="stable")[:k]
        best_scores, best_ids = best_scores[keep], best_ids[keep]
    return [int(i) for i in best_ids]


def round_candidates(*, game: Game, sticker_pk: int, seed: int) -> list[int]:
    """The grid for a round on ``sticker_pk``: Sticker primary keys in display order (shuffled
    with ``seed``), the target among them; ``game.candidate_count`` in all, fewer only when the
    library is smaller. Random distractors when the target has no stored embedding."""
    rng = random.Random(seed)
    wanted = max(game.candidate_count - 1, 0)
    embedding = _encoder_version(game, sticker_pk)
    near = math.ceil(wanted * NEIGHBOUR_SHARE) if embedding is not None else 0
    chosen = nearest_stickers(embedding=embedding, k=near) if near else []
    if len(chosen) < wanted:
        # Random fill. All primary keys are read (8 bytes each: 800 KB per 100k stickers).
        taken = {sticker_pk, *chosen}
        others = [pk for pk in Sticker.objects.values_list("pk", flat=True) if pk not in taken]
        chosen += rng.sample(others, min(wanted - len(chosen), len(others)))
    grid = [sticker_pk, *chosen]
    rng.shuffle(grid)
    return grid
