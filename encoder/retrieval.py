"""Exact top-k nearest neighbours by cosine, for every anchor at once (no Django here).

The embeddings are L2-normalised, so cosine is the inner product and the exact answer is one
big matrix product, done a chunk of anchors at a time (``(C, D) @ (D, N)``) with ``torch.topk``
on each chunk's scores: float32 GEMM on all cores (or the GPU) plus a partial sort, which is
what FAISS's ``IndexFlatIP`` does too, without its per-query heap.

Excluded from an anchor's candidates: the anchor itself and every member of its duplicate group
(``duplicate_group[i] == duplicate_group[anchor]``, e.g. a content-hash id). Ties are broken
deterministically: higher score first, then lower index. ``offset`` skips the first ``offset``
ranks, so ``k=20, offset=20`` gives candidates 21-40.
"""

from __future__ import annotations

import numpy as np
import torch

# Bytes of one chunk's score matrix (C x N float32). 256 MiB keeps the working set small next
# to a model on a GPU or a worker's RAM: N = 100,000 gives C = 671 anchors a chunk,
# N = 1,000,000 gives C = 67 (each chunk still a 67 x 512 x 1M GEMM, 69 GFLOP).
DEFAULT_CHUNK_BYTES = 256 * 1024 * 1024
MIN_CHUNK_ROWS = 16  # below this a chunk is too thin for an efficient GEMM


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The given device, or cuda when present and cpu otherwise."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def chunk_rows(n_database: int, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
    """Anchors per chunk so that the (C, N) float32 score matrix fits in ``chunk_bytes``."""
    return max(MIN_CHUNK_ROWS, chunk_bytes // (4 * max(n_database, 1)))


def _group_members(duplicate_group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row, the rows in its duplicate group: (order, starts, group index per row).

    ``order[starts[g]:starts[g + 1]]`` are the rows of group ``g``; ``gidx[i]`` is i's group.
    """
    _, gidx, counts = np.unique(duplicate_group, return_inverse=True, return_counts=True)
    order = np.argsort(gidx, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    return order, starts, gidx


def _exclusions(
    anchors: np.ndarray, groups: tuple[np.ndarray, np.ndarray, np.ndarray] | None
) -> tuple[np.ndarray, np.ndarray]:
    """(row in chunk, column) pairs to mask: each anchor itself and its duplicates."""
    rows = np.arange(len(anchors))
    if groups is None:
        return rows, anchors
    order, starts, gidx = groups
    g = gidx[anchors]  # (C,)
    sizes = starts[g + 1] - starts[g]  # (C,)
    if (sizes <= 1).all():
        return rows, anchors
    rep_rows = np.repeat(rows, sizes)
    # Positions of each member within ``order``: start of its group + 0..size-1.
    offsets = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    cols = order[np.repeat(starts[g], sizes) + offsets]
    return np.concatenate([rows, rep_rows]), np.concatenate([anchors, cols])


def _sort_ties(idx: torch.Tensor, val: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Orders each row by score descending, then index ascending (two stable sorts)."""
    idx, perm = torch.sort(idx, dim=1, stable=True)  # (C, m) index ascending
    val = val.gather(1, perm)
    val, perm = torch.sort(val, dim=1, descending=True, stable=True)  # (C, m) score descending
    return idx.gather(1, perm), val


def _fix_boundary_ties(
    scores: torch.Tensor, idx: torch.Tensor, val: torch.Tensor, m: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows whose m-th and (m+1)-th scores tie may have left out a lower index of equal score:
    redo those rows exactly (all columns scoring >= the m-th score, sorted by (-score, index)).
    """
    tied = (val[:, m - 1] == val[:, m]) & torch.isfinite(val[:, m])  # (C,)
    idx, val = idx[:, :m].clone(), val[:, :m].clone()
    for r in torch.nonzero(tied).flatten().tolist():
        threshold = val[r, m - 1]
        cols = torch.nonzero(scores[r] >= threshold).flatten()  # (n_r,) ascending
        vals = scores[r, cols]
        order = torch.sort(vals, descending=True, stable=True).indices[:m]
        idx[r], val[r] = cols[order], vals[order]
    return idx, val


def topk_cosine(
    embeddings: np.ndarray,
    k: int,
    *,
    anchors: np.ndarray | None = None,
    anchor_vectors: np.ndarray | None = None,
    duplicate_group: np.ndarray | None = None,
    offset: int = 0,
    device: str | torch.device | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k neighbours of each anchor among the rows of ``embeddings``.

    Args:
        embeddings: (N, D) float32, L2-normalised rows (the candidates).
        k: neighbours per anchor, after skipping ``offset``.
        anchors: (A,) row indices of the anchors in ``embeddings``; default all N rows.
        anchor_vectors: (A, D) query vectors to use instead of ``embeddings[anchors]`` (e.g.
            text-query embeddings); the anchor's own row is still what gets excluded.
        duplicate_group: (N,) group ids; rows sharing the anchor's group are never returned.
        offset: skip the best ``offset`` neighbours (k=20, offset=20 gives ranks 21-40).
        device: torch device; default cuda when present, else cpu.
        chunk_bytes: memory bound of one chunk's (C, N) float32 score matrix.

    Returns:
        ``(indices, scores)``: (A, k) int64 rows of ``embeddings`` and (A, k) float32 cosines,
        best first, ties by lower index. Where fewer than ``offset + k`` candidates exist the
        row is padded with index -1 and score -inf.
    """
    n = embeddings.shape[0]
    anchors = np.arange(n) if anchors is None else np.asarray(anchors, dtype=np.int64)
    m = k + offset  # ranks to find before skipping the offset
    if m + 1 > n:  # topk needs m + 1 columns for the boundary check: pad with -inf columns
        pad = m + 1 - n
    else:
        pad = 0
    dev = pick_device(device)
    db = torch.from_numpy(np.ascontiguousarray(embeddings, dtype=np.float32)).to(dev)  # (N, D)
    if anchor_vectors is None:
        queries = db[torch.from_numpy(anchors).to(dev)]  # (A, D)
    else:
        queries = torch.from_numpy(np.ascontiguousarray(anchor_vectors, np.float32)).to(dev)
    groups = None if duplicate_group is None else _group_members(np.asarray(duplicate_group))
    rows_per_chunk = chunk_rows(n + pad, chunk_bytes)
    out_idx = np.empty((len(anchors), k), dtype=np.int64)
    out_val = np.empty((len(anchors), k), dtype=np.float32)
    neg_inf = torch.tensor(float("-inf"), device=dev)
    for start in range(0, len(anchors), rows_per_chunk):
        stop = min(start + rows_per_chunk, len(anchors))
        scores = queries[start:stop] @ db.T  # (C, N)
        if pad:
            scores = torch.nn.functional.pad(scores, (0, pad), value=float("-inf"))  # (C, N+pad)
        r, c = _exclusions(anchors[start:stop], groups)
        scores[torch.from_numpy(r).to(dev), torch.from_numpy(c).to(dev)] = neg_inf
        val, idx = torch.topk(scores, m + 1, dim=1, sorted=True)  # (C, m+1)
        idx, val = _sort_ties(idx, val)
        idx, val = _fix_boundary_ties(scores, idx, val, m)  # (C, m)
        idx, val = idx[:, offset:], val[:, offset:]  # (C, k)
        idx = torch.where(torch.isfinite(val) & (idx < n), idx, torch.full_like(idx, -1))
        out_idx[start:stop] = idx.cpu().numpy()
        out_val[start:stop] = val.float().cpu().numpy()
    return out_idx, out_val
