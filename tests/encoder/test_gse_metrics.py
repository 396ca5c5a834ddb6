"""GSE metrics: threshold search against a brute-force sweep, metrics against scikit-learn,
retrieval Recall@k on hand-made embeddings."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from encoder.gse.metrics import (
    best_f1_threshold,
    binary_metrics,
    positive_groups,
    retrieval_recall,
)


def brute_force_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Every unique score as threshold, sklearn's F1, ties to the highest threshold."""
    best = (-1.0, -np.inf)
    for t in sorted(set(scores.tolist()), reverse=True):
        f1 = f1_score(labels, (scores >= t).astype(int), zero_division=0)
        if f1 > best[1] + 1e-12:
            best = (t, f1)
    return best


def test_threshold_search_on_hand_made_scores():
    # given scores where the best cut keeps the top three
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.1])
    labels = np.array([1, 1, 1, 0, 1, 0])
    # when the threshold is searched
    threshold, f1 = best_f1_threshold(scores, labels)
    # then it is the one brute force finds: 0.5 keeps 4 of 4 positives with 1 false positive
    assert (threshold, f1) == pytest.approx(brute_force_threshold(scores, labels))
    assert threshold == 0.5 and f1 == pytest.approx(8 / 9)


@pytest.mark.parametrize("seed", range(20))
def test_threshold_search_equals_brute_force_with_ties(seed):
    # given random scores rounded so that many tie
    rng = np.random.default_rng(seed)
    scores = np.round(rng.uniform(-1, 1, 40), 1)
    labels = rng.integers(0, 2, 40)
    labels[0] = 1
    # when searched / then threshold and F1 equal the brute-force sweep
    assert best_f1_threshold(scores, labels) == pytest.approx(
        brute_force_threshold(scores, labels))


def test_metrics_equal_scikit_learn():
    # given known scores, labels and a threshold
    rng = np.random.default_rng(3)
    scores = rng.uniform(-1, 1, 50)
    labels = rng.integers(0, 2, 50)
    # when the metrics are computed
    m = binary_metrics(scores, labels, 0.1)
    # then each equals scikit-learn's
    predicted = (scores >= 0.1).astype(int)
    assert m["accuracy"] == accuracy_score(labels, predicted)
    assert m["precision"] == precision_score(labels, predicted)
    assert m["recall"] == recall_score(labels, predicted)
    assert m["f1"] == f1_score(labels, predicted)
    assert m["roc_auc"] == roc_auc_score(labels, scores)
    assert m["n_pairs"] == 50 and m["n_positive"] == int(labels.sum())


def test_auc_is_none_with_one_class():
    assert binary_metrics(np.array([0.2, 0.4]), np.array([1, 1]), 0.3)["roc_auc"] is None


def test_positive_groups_are_connected_components():
    # given positives a-b, b-c and d-e
    groups = positive_groups([("a", "b"), ("b", "c"), ("d", "e")])
    # then a, b, c share a group and d, e another
    assert groups["a"] == groups["b"] == groups["c"] != groups["d"] == groups["e"]


def test_retrieval_recall_on_hand_made_vectors():
    # given two groups of two on the unit circle and one distractor
    angles = np.array([0.0, 0.1, 1.5, 1.6, 0.05])
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    groups = ["x", "x", "y", "y", None]
    # when recall is computed
    r = retrieval_recall(vectors, groups, ks=(1, 2))
    # then: sticker 0's nearest is the distractor (miss at 1), everyone else hits at 1;
    # at 2, every query finds its single partner
    assert r["n_queries"] == 4
    assert r["recall@1"] == pytest.approx(0.5)  # 0 -> 4 (miss), 1 -> 4 (miss), 2 -> 3, 3 -> 2
    assert r["recall@2"] == pytest.approx(1.0)
