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
from django.db.models import Max, Min

from annotation.models import Sticker
from encoder.models import StickerEmbedding
from game.models import Game

# Share of the distractors taken from the nearest neighbours; the rest are random stickers, so
# the grid is hard but the target does not stand out as "the one unlike the others".
NEIGHBOUR_SHARE = 0.75
# Rounds of random draws of primary keys before reading them all (random_stickers).
RANDOM_DRAWS = 4
# Embeddings read per query: 5,000 x 512 float32 = 10 MB at a time.
EMBEDDING_PAGE = 5_000


def _encoder_version(game: Game, sticker_pk: int) -> StickerEmbedding | None:
    """The target's embedding under the game's encoder, or the newest one stored."""
    rows = StickerEmbedding.objects.filter(sticker_id=sticker_pk)
    if game.encoder_version:
        rows = rows.filter(encoder_version__version=game.encoder_version)
    return rows.order_by("-created_at", "-id").first()


def nearest_stickers(*, embedding: StickerEmbedding, k: int) -> list[int]:
    """The k stickers nearest to ``embedding``'s sticker by cosine, under its version (itself
    left out), nearest first."""
    query = np.frombuffer(bytes(embedding.vector), "<f4").astype(np.float32)  # (D,)
    norm = float(np.linalg.norm(query))
    if norm == 0 or k <= 0:
        return []
    query /= norm
    rows = (StickerEmbedding.objects.filter(encoder_version_id=embedding.encoder_version_id,
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


def random_stickers(*, k: int, exclude: set[int], rng: random.Random) -> list[int]:
    """k random stickers not in ``exclude``. Draws primary keys in the table's id range and
    keeps those that exist (one indexed lookup per draw, whatever the library's size); reads
    every key only when the draws keep missing (a library with large holes in its ids)."""
    bounds = Sticker.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
    if bounds["lo"] is None or k <= 0:
        return []
    found: list[int] = []
    for _ in range(RANDOM_DRAWS):
        draws = {rng.randint(bounds["lo"], bounds["hi"]) for _ in range(3 * k)}
        fresh = sorted(set(Sticker.objects.filter(pk__in=draws).values_list("pk", flat=True))
                       - exclude - set(found))
        rng.shuffle(fresh)
        found += fresh[:k - len(found)]
        if len(found) == k:
            return found
    taken = exclude | set(found)
    others = [pk for pk in Sticker.objects.values_list("pk", flat=True) if pk not in taken]
    return found + rng.sample(others, min(k - len(found), len(others)))


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
        chosen += random_stickers(k=wanted - len(chosen), exclude={sticker_pk, *chosen}, rng=rng)
    grid = [sticker_pk, *chosen]
    rng.shuffle(grid)
    return grid
