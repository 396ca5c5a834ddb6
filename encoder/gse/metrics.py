"""Pair classification and retrieval metrics (pure NumPy + scikit-learn).

The classifier is the paper's (001, 4.1): a pair is "similar" when the cosine of its two
stickers' embeddings is >= a threshold tuned on the validation split to maximise F1.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

RECALL_KS = (5, 10, 20, 100)


def best_f1_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """``(threshold, F1)`` maximising F1 of ``score >= threshold`` over every unique score.

    An exact sweep in O(n log n): sort by score descending, cumulative true positives give
    each candidate threshold's confusion matrix. Ties in F1 go to the highest threshold (the
    most conservative classifier), so the result is deterministic.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    if scores.size == 0:
        raise ValueError("threshold search: no scores")
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    tp = np.cumsum(y)  # positives predicted when the threshold is s[i]
    predicted = np.arange(1, s.size + 1)
    last_of_value = np.r_[s[1:] != s[:-1], True]  # threshold s[i] includes all its ties
    tp, predicted, thresholds = tp[last_of_value], predicted[last_of_value], s[last_of_value]
    f1 = np.where(tp > 0, 2 * tp / (predicted + y.sum()), 0.0)  # 2TP / (2TP + FP + FN)
    best = int(np.argmax(f1))  # first max = highest threshold among ties
    return float(thresholds[best]), float(f1[best])


def binary_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Accuracy, precision, recall, F1 at ``threshold`` and ROC-AUC (None with one class)."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(int)
    predicted = (scores >= threshold).astype(int)
    auc = roc_auc_score(labels, scores) if len(set(labels.tolist())) == 2 else None
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "precision": float(precision_score(labels, predicted, zero_division=0)),
        "recall": float(recall_score(labels, predicted, zero_division=0)),
        "f1": float(f1_score(labels, predicted, zero_division=0)),
        "roc_auc": None if auc is None else float(auc),
        "threshold": float(threshold),
        "n_pairs": int(labels.size),
        "n_positive": int(labels.sum()),
    }


def cosine_scores(vectors: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(P,) cosines of rows ``a`` and ``b`` of unit-length ``vectors`` (N, D)."""
    return np.einsum("pd,pd->p", vectors[a], vectors[b]).astype(np.float64)


def positive_groups(
    positives: Iterable[tuple[Hashable, Hashable]],
) -> dict[Hashable, Hashable]:
    """Sticker -> group: connected components of the positive pairs (union-find)."""
    parent: dict[Hashable, Hashable] = {}

    def find(x: Hashable) -> Hashable:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in positives:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb, key=str)] = min(ra, rb, key=str)
    return {x: find(x) for x in parent}


def retrieval_recall(
    vectors: np.ndarray, groups: Sequence[Hashable], ks: Sequence[int] = RECALL_KS,
) -> dict[str, float]:
    """Sticker-to-sticker Recall@k, every sticker of a group of >= 2 taken as a query.

    Recall@k = |relevant in top k| / min(k, |relevant|), the relevant set being the other
    members of the query's group; the denominator keeps it in [0, 1] when a group is smaller
    than k (so, as in the paper's table, it may fall as k grows). ``groups[i]`` is None for a
    sticker in no group (it stays in the corpus as a distractor).
    """
    vectors = np.asarray(vectors, dtype=np.float32)  # (N, D), unit rows
    codes: dict[Hashable, int] = {}
    keys = np.asarray([-1 if g is None else codes.setdefault(g, len(codes)) for g in groups])
    valid = keys >= 0
    queries = [i for i in range(len(groups)) if valid[i] and (keys[valid] == keys[i]).sum() > 1]
    out = {f"recall@{k}": 0.0 for k in ks}
    out["n_queries"] = len(queries)
    if not queries:
        return out
    sims = vectors[queries] @ vectors.T  # (Q, N)
    sims[np.arange(len(queries)), queries] = -np.inf  # never retrieve the query itself
    ranked = np.argsort(-sims, axis=1, kind="stable")  # (Q, N) best first, ties by index
    for k in ks:
        values = []
        for row, q in enumerate(queries):
            relevant = valid & (keys == keys[q])
            relevant[q] = False
            hits = relevant[ranked[row, :k]].sum()
            values.append(hits / min(k, relevant.sum()))
        out[f"recall@{k}"] = float(np.mean(values))
    return out
