"""Split by sticker: no sticker in two splits, deterministic, ratios roughly kept."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pairbuilder.split import split_by_sticker


def _random_pairs(rng, n, p):
    a = rng.integers(0, n, p)
    b = rng.integers(0, n, p)
    keep = a < b
    keys = np.unique(a[keep] * n + b[keep])
    return keys // n, keys % n


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 60), st.integers(0, 200), st.integers(0, 5))
def test_no_sticker_in_two_splits(n, p, seed):
    a, b = _random_pairs(np.random.default_rng(seed), n, p)
    result = split_by_sticker(a, b, n, (0.8, 0.1, 0.1), seed)
    kept = result.pair_split >= 0
    # then: every kept pair's stickers share its split; dropped pairs are counted
    assert (result.sticker_split[a[kept]] == result.pair_split[kept]).all()
    assert (result.sticker_split[b[kept]] == result.pair_split[kept]).all()
    assert result.dropped == int((~kept).sum())


def test_small_components_are_never_cut_and_ratios_hold():
    # given: 100 disjoint components of 3 pairs each
    a = np.concatenate([[4 * i, 4 * i, 4 * i + 1] for i in range(100)])
    b = np.concatenate([[4 * i + 1, 4 * i + 2, 4 * i + 3] for i in range(100)])
    # when
    result = split_by_sticker(a, b, 400, (0.8, 0.1, 0.1), seed=7)
    # then
    assert result.dropped == 0
    assert np.bincount(result.pair_split, minlength=3).tolist() == [240, 30, 30]


def test_giant_component_is_cut_and_deterministic():
    # given: one chain of 1,000 stickers (a single component)
    a, b = np.arange(999), np.arange(1, 1000)
    # when
    one = split_by_sticker(a, b, 1000, (0.8, 0.1, 0.1), seed=1)
    two = split_by_sticker(a, b, 1000, (0.8, 0.1, 0.1), seed=1)
    # then: all three splits get pairs, few pairs lost, same answer twice
    counts = np.bincount(one.pair_split[one.pair_split >= 0], minlength=3)
    assert (counts > 50).all() and one.dropped <= 4
    assert np.array_equal(one.sticker_split, two.sticker_split)
