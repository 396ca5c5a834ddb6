"""Exact top-k retrieval (encoder/retrieval.py) against a brute-force numpy reference."""

from __future__ import annotations

import numpy as np
import pytest

from encoder.retrieval import chunk_rows, topk_cosine


def brute_force(x: np.ndarray, k: int, *, anchors=None, vectors=None, groups=None, offset=0):
    """Per anchor: every column but itself and its duplicates, by (-score, index)."""
    n = len(x)
    anchors = np.arange(n) if anchors is None else np.asarray(anchors)
    vectors = x[anchors] if vectors is None else vectors
    groups = np.arange(n) if groups is None else np.asarray(groups)
    out_i, out_s = [], []
    for a, q in zip(anchors, vectors, strict=True):
        scores = (x.astype(np.float64) @ q.astype(np.float64)).astype(np.float32)
        allowed = np.flatnonzero((groups != groups[a]) & (np.arange(n) != a))
        order = np.lexsort((allowed, -scores[allowed]))  # score desc, then index asc
        chosen = allowed[order][offset:offset + k]
        out_i.append(chosen)
        out_s.append(scores[chosen])
    return np.array(out_i), np.array(out_s)


def integer_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    """Small integer entries: every product is exact in float32, and ties are everywhere."""
    return np.random.default_rng(seed).integers(-1, 2, size=(n, dim)).astype(np.float32)


def unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_exact_with_ties_matches_brute_force_indices_and_scores():
    # given vectors whose cosines tie often (integer entries, 4 dims)
    x = integer_vectors(120, 4, seed=1)
    # when every anchor retrieves its top 10 in chunks of 16 anchors (120 not a multiple)
    idx, scores = topk_cosine(x, 10, chunk_bytes=1, device="cpu")
    # then indices and scores equal the reference exactly, ties by lower index
    ref_i, ref_s = brute_force(x, 10)
    assert chunk_rows(120, 1) == 16
    np.testing.assert_array_equal(idx, ref_i)
    np.testing.assert_array_equal(scores, ref_s)


def test_random_unit_vectors_match_brute_force():
    # given random unit vectors
    x = unit_vectors(300, 32, seed=2)
    # when
    idx, scores = topk_cosine(x, 20, chunk_bytes=4 * 300 * 37, device="cpu")  # 37-row chunks
    # then
    ref_i, ref_s = brute_force(x, 20)
    np.testing.assert_array_equal(idx, ref_i)
    np.testing.assert_allclose(scores, ref_s, atol=1e-6)


def test_never_returns_the_anchor_nor_its_duplicates():
    # given exact duplicates: rows 0, 1, 2 are one image, rows 3 and 4 another
    x = unit_vectors(40, 8, seed=3)
    x[1] = x[2] = x[0]
    x[4] = x[3]
    groups = np.arange(40)
    groups[[1, 2]] = 0
    groups[4] = 3
    # when
    idx, _ = topk_cosine(x, 10, duplicate_group=groups, device="cpu")
    # then no row holds itself or a member of its group, and it equals the reference
    for a, row in enumerate(idx):
        assert a not in row
        assert not set(row) & set(np.flatnonzero(groups == groups[a]))
    ref_i, _ = brute_force(x, 10, groups=groups)
    np.testing.assert_array_equal(idx, ref_i)


def test_offset_gives_candidates_21_to_40():
    # given
    x = integer_vectors(100, 6, seed=4)
    # when
    first40, s40 = topk_cosine(x, 40, device="cpu")
    page2, s2 = topk_cosine(x, 20, offset=20, chunk_bytes=1, device="cpu")
    # then page 2 is ranks 21-40 of the same ranking
    np.testing.assert_array_equal(page2, first40[:, 20:])
    np.testing.assert_array_equal(s2, s40[:, 20:])
    np.testing.assert_array_equal(page2, brute_force(x, 20, offset=20)[0])


def test_subset_of_anchors_with_their_own_query_vectors():
    # given anchors 5, 7, 9 that query with other vectors (e.g. their query-text embeddings)
    x = unit_vectors(60, 16, seed=5)
    anchors = np.array([5, 7, 9])
    queries = unit_vectors(3, 16, seed=6)
    # when
    idx, scores = topk_cosine(x, 8, anchors=anchors, anchor_vectors=queries, device="cpu")
    # then the anchor's own row is still excluded and the ranking is by the query vectors
    ref_i, ref_s = brute_force(x, 8, anchors=anchors, vectors=queries)
    np.testing.assert_array_equal(idx, ref_i)
    np.testing.assert_allclose(scores, ref_s, atol=1e-6)


def test_too_few_candidates_pads_with_minus_one():
    # given 5 vectors, so each anchor has only 4 candidates
    x = unit_vectors(5, 4, seed=7)
    # when
    idx, scores = topk_cosine(x, 6, device="cpu")
    # then the last two ranks are padding
    assert (idx[:, 4:] == -1).all()
    assert np.isneginf(scores[:, 4:]).all()
    np.testing.assert_array_equal(idx[:, :4], brute_force(x, 4)[0])


@pytest.mark.parametrize("n", [17, 33, 64])
def test_chunk_boundaries(n: int):
    # given N around the 16-row chunk size
    x = integer_vectors(n, 3, seed=n)
    # when / then
    np.testing.assert_array_equal(topk_cosine(x, 5, chunk_bytes=1, device="cpu")[0],
                                  brute_force(x, 5)[0])
