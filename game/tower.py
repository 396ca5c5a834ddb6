"""Search through the encoder's text tower for stickers that have no queries yet (pure NumPy,
no Django, no torch).

Why stored term vectors: a web process must not load a model (torch stays out of it), and a
worker round trip per keystroke of the labeler's preview would put a model's latency into
every search. So the blend is computed where torch is allowed, ahead of time: a command embeds
every term of the search vocabulary with the encoder's CLIP text tower
(``manage.py embed_search_terms``); a search then builds the query's vector from its terms'
stored vectors (IDF-weighted mean, normalised, as bag-of-words CLIP text features) and scores
the stored image embeddings of the stickers without queries by cosine. Those stickers have no
BM25 score at all, so the two lists are disjoint and are merged by weighted reciprocal rank
(scores of different kinds are never compared).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# A tower hit at rank r weighs like a BM25 hit at rank r / TOWER_WEIGHT: with 0.5 the tower's
# first sticker comes after BM25's second, its second after BM25's fourth, and so on (a third
# of a full page). Text-to-image similarity of a bag of words is weaker evidence than a
# person's query.
TOWER_WEIGHT = 0.5
RECALL_KS = (1, 5, 10, 50)


@dataclass(frozen=True)
class TermVectors:
    """The text tower's vector of each search term of one language, rows unit-normalised."""

    row: Mapping[str, int]  # term -> row of ``matrix``
    matrix: np.ndarray  # (V, D) float32

    def query_vector(self, terms: Sequence[str], idf: Mapping[str, float] | None = None
                     ) -> np.ndarray | None:
        """(D,) unit vector of the terms' IDF-weighted mean; None when no term has a vector."""
        known = [t for t in terms if t in self.row]
        if not known:
            return None
        weights = np.asarray([(idf or {}).get(t, 1.0) for t in known], np.float32)  # (T,)
        mean = weights @ self.matrix[[self.row[t] for t in known]]  # (D,)
        norm = float(np.linalg.norm(mean))
        return mean / norm if norm > 0 else None


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """(N, D) float32 rows scaled to unit length (zero rows stay zero)."""
    matrix = np.asarray(matrix, np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)  # (N, 1)
    return matrix / np.where(norms == 0, 1, norms)


def tower_rank(query: np.ndarray, keys: Sequence[object], images: np.ndarray, k: int
               ) -> list[tuple[object, float]]:
    """The k stickers (``keys``, rows of the unit-row ``images`` (N, D)) nearest ``query`` by
    cosine, best first; ties in key order."""
    if len(keys) == 0 or k <= 0:
        return []
    scores = images @ query  # (N,)
    k = min(k, len(keys))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.lexsort((top, -scores[top]))]
    return [(keys[i], float(scores[i])) for i in top]


def blend(bm25: Sequence[tuple[object, float]], tower: Sequence[tuple[object, float]], k: int,
          tower_weight: float = TOWER_WEIGHT) -> list[tuple[object, float, str]]:
    """BM25 hits and tower hits in one list of k: (key, blended score, "bm25" | "tower").

    Weighted reciprocal rank: a BM25 hit at rank r scores 1 / r, a tower hit
    ``tower_weight / r``; on a tie the BM25 hit goes first. A key in both lists (not expected:
    the tower scores stickers without queries only) keeps its BM25 place.
    """
    seen = {key for key, _ in bm25}
    ranked = [(1.0 / r, 0, r, key, "bm25") for r, (key, _) in enumerate(bm25, start=1)]
    ranked += [(tower_weight / r, 1, r, key, "tower")
               for r, (key, _) in enumerate((h for h in tower if h[0] not in seen), start=1)]
    ranked.sort(key=lambda x: (-x[0], x[1], x[2]))
    return [(key, score, source) for score, _, _, key, source in ranked[:k]]


def text_to_image_recall(texts: np.ndarray, images: np.ndarray, targets: np.ndarray,
                         ks: Sequence[int] = RECALL_KS) -> dict[int, float]:
    """Recall@K of text-to-image retrieval: row i of ``texts`` (Q, D) finds image row
    ``targets[i]`` of ``images`` (N, D) among its K nearest by cosine? Ties count at the
    target's mean rank among the images scoring the same (as the BM25 evaluation)."""
    if len(texts) == 0:
        return dict.fromkeys(ks, 0.0)
    t, im = unit_rows(texts), unit_rows(images)
    hits = dict.fromkeys(ks, 0)
    for start in range(0, len(t), 1024):  # (1024, N) scores at a time: 400 MB at N = 100,000
        scores = t[start:start + 1024] @ im.T  # (B, N)
        target_scores = scores[np.arange(len(scores)), targets[start:start + 1024]]  # (B,)
        higher = (scores > target_scores[:, None]).sum(axis=1)
        tied = (scores == target_scores[:, None]).sum(axis=1) - 1
        rank = 1 + higher + tied / 2
        for k in ks:
            hits[k] += int((rank <= k).sum())
    return {k: hits[k] / len(texts) for k in ks}
