"""Paired bootstrap intervals for pair-classifier metrics (pure NumPy).

Why paired: every scorer is scored on the same test pairs, so the question "is the GSE better
than this baseline?" is about the difference on *those* pairs. Each resample draws test pairs
with replacement once, and every scorer (and every difference) is computed on that same draw;
the noise shared by both scorers then cancels in the difference.

Why stratified: the draw resamples the positives and the negatives separately, keeping their
counts. A resample then always holds both classes (AUC is defined), and with 40 positives the
interval does not widen just because some draws happen to have 30.

F1 is taken at each scorer's threshold tuned on validation (fixed, not re-tuned per draw): the
interval is that of the classifier the report describes. Intervals are percentile intervals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

N_RESAMPLES = 2000  # percentile 2.5/97.5 settle to ~0.005 on AUC by then; (B, P) float64 is
# 2000 x 1000 x 8 B = 16 MB per 1,000 pairs of a class
SEED = 0
LEVEL = 0.95


def stratified_resamples(
    labels: np.ndarray, *, n_resamples: int = N_RESAMPLES, seed: int = SEED
) -> tuple[np.ndarray, np.ndarray]:
    """(B, n_pos) and (B, n_neg) pair indices, drawn with replacement within each class.

    Deterministic in ``seed``: the positives are drawn first, then the negatives, from one
    ``numpy.random.default_rng(seed)``.
    """
    labels = np.asarray(labels).astype(bool)
    pos, neg = np.flatnonzero(labels), np.flatnonzero(~labels)
    if pos.size == 0 or neg.size == 0:
        raise ValueError("bootstrap: the pairs need both classes")
    rng = np.random.default_rng(seed)
    return (pos[rng.integers(0, pos.size, size=(n_resamples, pos.size))],
            neg[rng.integers(0, neg.size, size=(n_resamples, neg.size))])


def _counts(draws: np.ndarray, members: np.ndarray) -> np.ndarray:
    """(B, M) how often each of ``members`` (sorted pair indices) is drawn in each resample."""
    columns = np.searchsorted(members, draws)  # (B, M) column of each drawn pair
    rows = np.repeat(np.arange(draws.shape[0]), draws.shape[1])
    out = np.zeros((draws.shape[0], members.size))
    np.add.at(out, (rows, columns.reshape(-1)), 1.0)
    return out


def resampled_auc(
    scores: np.ndarray, labels: np.ndarray, w_pos: np.ndarray, w_neg: np.ndarray
) -> np.ndarray:
    """(B,) ROC-AUC of each resample, given the draw counts (B, n_pos) and (B, n_neg).

    AUC = P(score_pos > score_neg) + P(=)/2 over the drawn pairs: for each positive, the drawn
    negatives below it come from a cumulative sum over the negatives in score order, so this is
    O(B (n_pos + n_neg)) and never builds the n_pos x n_neg comparison matrix.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    s_pos, s_neg = scores[labels], scores[~labels]
    order = np.argsort(s_neg, kind="stable")
    sorted_neg = s_neg[order]
    cum = np.concatenate([np.zeros((w_neg.shape[0], 1)), np.cumsum(w_neg[:, order], axis=1)],
                         axis=1)  # (B, n_neg + 1) drawn negatives at or below each rank
    below = cum[:, np.searchsorted(sorted_neg, s_pos, side="left")]  # (B, n_pos)
    at_or_below = cum[:, np.searchsorted(sorted_neg, s_pos, side="right")]  # (B, n_pos)
    wins = (w_pos * (below + 0.5 * (at_or_below - below))).sum(axis=1)  # (B,)
    return wins / (w_pos.sum(axis=1) * w_neg.sum(axis=1))


def resampled_f1(
    scores: np.ndarray, labels: np.ndarray, threshold: float, w_pos: np.ndarray,
    w_neg: np.ndarray,
) -> np.ndarray:
    """(B,) F1 of ``score >= threshold`` in each resample: 2TP / (2TP + FP + FN)."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    predicted = scores >= threshold
    tp = w_pos @ predicted[labels].astype(np.float64)  # (B,)
    fp = w_neg @ predicted[~labels].astype(np.float64)
    fn = w_pos.sum(axis=1) - tp
    denominator = 2 * tp + fp + fn
    return np.where(denominator > 0, 2 * tp / np.where(denominator > 0, denominator, 1), 0.0)


def _interval(point: float, draws: np.ndarray, level: float) -> dict[str, float]:
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(draws, [tail, 100 - tail])
    return {"point": float(point), "low": float(low), "high": float(high)}


def paired_bootstrap(
    scores: Mapping[str, np.ndarray], labels: np.ndarray, thresholds: Mapping[str, float], *,
    reference: str | None = None, n_resamples: int = N_RESAMPLES, seed: int = SEED,
    level: float = LEVEL,
) -> dict[str, Any]:
    """Intervals for AUC and F1 of every scorer and for ``reference`` minus each other one.

    ``scores[name]`` are the (P,) test-pair scores of one scorer, all in the order of
    ``labels``. Returns ``{"n_resamples", "seed", "level", "method", "scorers": {name: {metric:
    {point, low, high}}}, "differences": {name: {metric: {...}}}}``, the differences keyed by
    the other scorer's name (reference minus it); empty when there is no reference.
    """
    labels = np.asarray(labels).astype(bool)
    pos_draws, neg_draws = stratified_resamples(labels, n_resamples=n_resamples, seed=seed)
    w_pos = _counts(pos_draws, np.flatnonzero(labels))  # (B, n_pos)
    w_neg = _counts(neg_draws, np.flatnonzero(~labels))  # (B, n_neg)
    ones_pos, ones_neg = np.ones((1, w_pos.shape[1])), np.ones((1, w_neg.shape[1]))
    draws: dict[str, dict[str, np.ndarray]] = {}
    points: dict[str, dict[str, float]] = {}
    for name, s in scores.items():
        t = thresholds[name]
        draws[name] = {"roc_auc": resampled_auc(s, labels, w_pos, w_neg),
                       "f1": resampled_f1(s, labels, t, w_pos, w_neg)}
        points[name] = {"roc_auc": float(resampled_auc(s, labels, ones_pos, ones_neg)[0]),
                        "f1": float(resampled_f1(s, labels, t, ones_pos, ones_neg)[0])}
    out: dict[str, Any] = {
        "n_resamples": n_resamples, "seed": seed, "level": level,
        "method": "paired, stratified by class; percentile intervals; F1 at the val threshold",
        "reference": reference,
        "scorers": {name: {m: _interval(points[name][m], draws[name][m], level)
                           for m in ("roc_auc", "f1")} for name in scores},
        "differences": {},
    }
    if reference is not None:
        for name in scores:
            if name != reference:
                out["differences"][name] = {
                    m: _interval(points[reference][m] - points[name][m],
                                 draws[reference][m] - draws[name][m], level)
                    for m in ("roc_auc", "f1")}
    return out


def verdict(bootstrap: Mapping[str, Any], baselines: Sequence[str]) -> str:
    """One line: does the reference beat the best baseline (by AUC) with the AUC-difference
    interval above zero?"""
    reference = bootstrap.get("reference")
    present = [b for b in baselines if b in bootstrap["differences"]]
    if reference is None or not present:
        return "No baseline to compare with."
    best = max(present, key=lambda b: bootstrap["scorers"][b]["roc_auc"]["point"])
    d = bootstrap["differences"][best]["roc_auc"]
    pct = round(100 * bootstrap["level"])
    span = f"{d['point']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"
    if d["low"] > 0:
        return (f"{reference} beats the best baseline ({best}): AUC difference {span}, the "
                f"{pct}% interval is above zero.")
    if d["high"] < 0:
        return (f"{reference} is WORSE than the best baseline ({best}): AUC difference {span}, "
                f"the {pct}% interval is below zero.")
    return (f"{reference} can NOT be told apart from the best baseline ({best}): AUC difference "
            f"{span}, the {pct}% interval includes zero.")
