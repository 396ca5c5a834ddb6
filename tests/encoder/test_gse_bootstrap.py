"""Paired bootstrap intervals (encoder/gse/bootstrap.py) against a direct computation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from encoder.gse.bootstrap import paired_bootstrap, stratified_resamples, verdict


def fixture_scores(n_pos: int = 30, n_neg: int = 70, seed: int = 3):
    rng = np.random.default_rng(seed)
    labels = np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)]
    rng.shuffle(labels)
    good = labels * 0.6 + rng.normal(0, 0.5, labels.size)  # separates the classes
    weak = np.round(labels * 0.1 + rng.normal(0, 0.5, labels.size), 1)  # with ties
    return labels, {"gse": good, "pixels": weak}


def test_intervals_match_a_direct_computation_with_the_same_seed():
    # given two scorers and their validation thresholds
    labels, scores = fixture_scores()
    thresholds = {"gse": 0.3, "pixels": 0.0}
    # when
    out = paired_bootstrap(scores, labels, thresholds, reference="gse", n_resamples=300, seed=7)
    # then every interval equals the one from sklearn on the very same resamples
    pos, neg = stratified_resamples(labels, n_resamples=300, seed=7)
    direct = {name: {"roc_auc": [], "f1": []} for name in scores}
    for b in range(300):
        idx = np.r_[pos[b], neg[b]]
        for name, s in scores.items():
            direct[name]["roc_auc"].append(roc_auc_score(labels[idx], s[idx]))
            direct[name]["f1"].append(f1_score(labels[idx], s[idx] >= thresholds[name]))
    for name in scores:
        for metric in ("roc_auc", "f1"):
            low, high = np.percentile(direct[name][metric], [2.5, 97.5])
            got = out["scorers"][name][metric]
            assert got["low"] == pytest.approx(low, abs=1e-12), (name, metric)
            assert got["high"] == pytest.approx(high, abs=1e-12), (name, metric)
    full_auc = roc_auc_score(labels, scores["gse"])
    assert out["scorers"]["gse"]["roc_auc"]["point"] == pytest.approx(full_auc)
    diff = np.asarray(direct["gse"]["roc_auc"]) - np.asarray(direct["pixels"]["roc_auc"])
    low, high = np.percentile(diff, [2.5, 97.5])
    got = out["differences"]["pixels"]["roc_auc"]
    assert (got["low"], got["high"]) == (pytest.approx(low), pytest.approx(high))


def test_same_seed_same_intervals_other_seed_other_intervals():
    # given
    labels, scores = fixture_scores()
    thresholds = {"gse": 0.3, "pixels": 0.0}
    # when
    a = paired_bootstrap(scores, labels, thresholds, reference="gse", n_resamples=200, seed=1)
    b = paired_bootstrap(scores, labels, thresholds, reference="gse", n_resamples=200, seed=1)
    c = paired_bootstrap(scores, labels, thresholds, reference="gse", n_resamples=200, seed=2)
    # then
    assert a == b
    assert a["scorers"]["gse"]["roc_auc"] != c["scorers"]["gse"]["roc_auc"]


def test_every_resample_keeps_both_classes_and_their_counts():
    # given few positives
    labels = np.r_[np.ones(3, int), np.zeros(50, int)]
    # when
    pos, neg = stratified_resamples(labels, n_resamples=100, seed=0)
    # then
    assert pos.shape == (100, 3) and neg.shape == (100, 50)
    assert labels[pos].all() and not labels[neg].any()


def test_verdict_says_whether_the_interval_is_above_zero():
    # given a clearly better reference, and one no better than the baseline
    labels, scores = fixture_scores(n_pos=200, n_neg=200)
    clear = paired_bootstrap(scores, labels, {"gse": 0.3, "pixels": 0.0}, reference="gse",
                             n_resamples=200)
    same = paired_bootstrap({"gse": scores["pixels"], "pixels": scores["pixels"] + 1e-9},
                            labels, {"gse": 0.0, "pixels": 0.0}, reference="gse",
                            n_resamples=200)
    # when / then
    assert "beats the best baseline (pixels)" in verdict(clear, ["pixels"])
    assert "can NOT be told apart" in verdict(same, ["pixels"])
