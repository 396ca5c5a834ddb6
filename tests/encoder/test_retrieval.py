"""Exact top-k retrieval (encoder/retrieval.py) against a brute-force numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from encoder import retrieval
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


# ---- block-max top-k, shards, half-precision storage (issue 14) ----

@pytest.mark.parametrize("n", [1000, 1024, 1057])
def test_block_pruned_topk_with_ties_matches_brute_force(n: int):
    # given ties everywhere and N wide enough for the block-max path (>= 4 * 6 blocks of 32),
    # with and without a short tail block
    x = integer_vectors(n, 3, seed=n)
    anchors = np.arange(0, n, 7)
    assert n // retrieval.BLOCK >= retrieval.BLOCK_MIN_FACTOR * 6
    # when
    idx, scores = topk_cosine(x, 5, anchors=anchors, chunk_bytes=4 * n * 40, device="cpu")
    # then
    ref_i, ref_s = brute_force(x, 5, anchors=anchors)
    np.testing.assert_array_equal(idx, ref_i)
    np.testing.assert_array_equal(scores, ref_s)


def test_small_blocks_with_duplicates_and_offset(monkeypatch):
    # given 4-column blocks, so small inputs take the block path, and duplicate groups
    monkeypatch.setattr(retrieval, "BLOCK", 4)
    monkeypatch.setattr(retrieval, "BLOCK_MIN_FACTOR", 1)
    x = integer_vectors(150, 4, seed=11)
    groups = np.arange(150) // 3  # rows 0-2, 3-5, ... are one image each
    # when
    idx, scores = topk_cosine(x, 8, duplicate_group=groups, offset=3, chunk_bytes=1,
                              device="cpu")
    # then
    ref_i, ref_s = brute_force(x, 8, groups=groups, offset=3)
    np.testing.assert_array_equal(idx, ref_i)
    np.testing.assert_array_equal(scores, ref_s)


@pytest.mark.parametrize("shard_rows", [1, 7, 16, 49, 100, 1000])
def test_sharded_equals_unsharded_and_brute_force_with_ties(shard_rows: int):
    # given tied cosines, duplicate groups that straddle shard edges and an offset
    x = integer_vectors(100, 3, seed=12)
    groups = np.arange(100) // 4
    groups[[6, 7, 8]] = 99  # one group across the 7-row shard boundary
    # when the library is held in shards of ``shard_rows`` rows
    idx, scores = topk_cosine(x, 6, duplicate_group=groups, offset=2, chunk_bytes=1,
                              max_shard_rows=shard_rows, device="cpu")
    # then it is exactly the unsharded result and the reference, ties by lower index
    whole_i, whole_s = topk_cosine(x, 6, duplicate_group=groups, offset=2, device="cpu")
    ref_i, ref_s = brute_force(x, 6, groups=groups, offset=2)
    np.testing.assert_array_equal(idx, whole_i)
    np.testing.assert_array_equal(scores, whole_s)
    np.testing.assert_array_equal(idx, ref_i)
    np.testing.assert_array_equal(scores, ref_s)


def test_sharded_random_vectors_with_query_vectors_and_padding():
    # given random unit vectors, a subset of anchors querying with their own vectors, and
    # k larger than the candidates, over shards smaller than k
    x = unit_vectors(12, 8, seed=13)
    anchors = np.array([0, 5, 11])
    queries = unit_vectors(3, 8, seed=14)
    # when
    idx, scores = topk_cosine(x, 14, anchors=anchors, anchor_vectors=queries, max_shard_rows=5,
                              device="cpu")
    # then 11 real candidates, then padding, in the reference order
    ref_i, ref_s = brute_force(x, 11, anchors=anchors, vectors=queries)
    np.testing.assert_array_equal(idx[:, :11], ref_i)
    np.testing.assert_allclose(scores[:, :11], ref_s, atol=1e-6)
    assert (idx[:, 11:] == -1).all() and np.isneginf(scores[:, 11:]).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_storage_ranks_the_rounded_vectors(dtype):
    # given random unit vectors kept in half precision (the CUDA default is float16)
    x = unit_vectors(400, 16, seed=15)
    rounded = torch.from_numpy(x).to(dtype).float().numpy()
    # when
    idx, scores = topk_cosine(x, 10, dtype=dtype, max_shard_rows=150, device="cpu")
    # then it is the exact float32 ranking of the rounded vectors
    ref_i, ref_s = brute_force(rounded, 10)
    np.testing.assert_array_equal(idx, ref_i)
    np.testing.assert_allclose(scores, ref_s, atol=1e-6)


def test_storage_dtype_and_shard_rows_for():
    # given / when / then: half on CUDA, float32 on CPU; a shard plus a chunk fit the memory
    assert retrieval.storage_dtype(torch.device("cuda")) == torch.float16
    assert retrieval.storage_dtype(torch.device("cpu")) == torch.float32
    assert retrieval.storage_dtype(torch.device("cpu"), torch.bfloat16) == torch.bfloat16
    rows = retrieval.shard_rows_for(8 * 2**30, 512, torch.float16)
    assert rows * 512 * 2 + retrieval.DEFAULT_CHUNK_BYTES <= 8 * 2**30
    assert (rows + 1) * 512 * 2 + retrieval.DEFAULT_CHUNK_BYTES > 8 * 2**30
    with pytest.raises(ValueError):
        retrieval.shard_rows_for(1000, 512)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_products_call_the_float32_output_gemm(dtype):
    # given half-precision queries and library on the meta device (no GPU here: meta tensors
    # check the operator, its overload and shapes without computing, as CUDA would run them)
    q = torch.empty(4, 8, dtype=dtype, device="meta")  # (C, D)
    db = torch.empty(5, 8, dtype=dtype, device="meta")  # (S, D)
    out = torch.empty(4, 5, device="meta")  # (C, S) float32
    # when
    retrieval._products(q, db, out)
    # then the float32-output matrix product accepted them and kept the float32 buffer
    assert out.dtype == torch.float32 and out.shape == (4, 5)
    with pytest.raises(RuntimeError):  # the same call with a half buffer is refused
        retrieval._products(q, db, torch.empty(4, 5, dtype=dtype, device="meta"))


def test_best_neighbours_in_the_short_last_block():
    # given 1000 random unit rows (31 whole blocks of 32, then 8 columns) where rows 992-999
    # are near-copies of anchors 0, 10, ..., 70: each such anchor's best neighbour is in the
    # short last block, with no tie for the boundary fix to redo the row
    x = unit_vectors(1000, 16, seed=16)
    noise = unit_vectors(8, 16, seed=17)
    near = x[0:80:10] + 0.05 * noise
    x[992:] = near / np.linalg.norm(near, axis=1, keepdims=True)
    anchors = np.arange(0, 200, 10)
    # when
    idx, scores = topk_cosine(x, 6, anchors=anchors, device="cpu")
    # then it is the reference, and the near-copies lead their anchors' lists
    ref_i, ref_s = brute_force(x, 6, anchors=anchors)
    np.testing.assert_array_equal(idx, ref_i)
    np.testing.assert_allclose(scores, ref_s, atol=1e-6)
    assert idx[:8, 0].tolist() == list(range(992, 1000))
