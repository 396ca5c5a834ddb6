"""Pair-build benchmark on synthetic annotations (pure rules, no database).

    .venv/bin/python bench/bench_pairbuild.py [--anchors 10000 100000] [--seed 0]

Per size: anchors x 2 iterations x 21 displayed stickers (anchor + 20 candidates; iteration 2
keeps 10 of iteration 1's candidates so pairs recur), random selections, 5-12 queries per
sticker from a 20,000-query vocabulary, random 64-d text vectors. Prints the time and peak
memory of the full rules (``pairs_label``) and of its counting step, beside a plain
``numpy.unique(keys, return_counts=True)`` over the same pair keys in the same run.
Wall and CPU time are both printed: on a shared machine the CPU time (this process only) is
the steadier figure for the ratio. Peak memory is measured per phase with tracemalloc (NumPy
reports its buffers to it), and the process's max RSS is printed at the end.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np

from pairbuilder import rules

CANDIDATES = 20
SHARED_IN_ITERATION_2 = 10


def synthetic(n_anchors: int, seed: int):
    """Displayed sets, similar sets, query sets and text vectors for ``n_anchors`` anchors."""
    rng = np.random.default_rng(seed)
    n = n_anchors  # every sticker is an anchor
    anchors = np.arange(n, dtype=np.int64)
    # Distinct, non-anchor candidates: increasing offsets from the anchor, modulo n.
    step = max(2, n // (2 * CANDIDATES))
    off1 = np.cumsum(rng.integers(1, step, size=(n, CANDIDATES)), axis=1)
    off2 = off1.copy()
    off2[:, SHARED_IN_ITERATION_2:] = off1[:, -1:] + np.cumsum(
        rng.integers(1, step, size=(n, CANDIDATES - SHARED_IN_ITERATION_2)), axis=1)
    cand1, cand2 = (anchors[:, None] + off1) % n, (anchors[:, None] + off2) % n  # (n, 20)
    pick1 = rng.random((n, CANDIDATES)) < 0.15
    pick2 = np.where(np.arange(CANDIDATES) < SHARED_IN_ITERATION_2,
                     pick1 & (rng.random((n, CANDIDATES)) < 0.7),
                     rng.random((n, CANDIDATES)) < 0.15)
    displayed_rows = np.concatenate([np.column_stack([anchors, cand1]),
                                     np.column_stack([anchors, cand2])])  # (2n, 21)
    displayed = rules.SetCollection(np.arange(0, displayed_rows.size + 1, 21, dtype=np.int64),
                                    displayed_rows.ravel())
    similar = _similar_sets(anchors, [cand1, cand2], [pick1, pick2])
    q_sizes = rng.integers(5, 13, size=n)
    q_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(q_sizes, out=q_offsets[1:])
    q_members = rng.integers(0, 20_000, size=int(q_offsets[-1]))
    queries = _dedupe(q_offsets, q_members)
    vectors = rng.standard_normal((n, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return n, displayed, similar, queries, vectors


def _similar_sets(anchors, cands, picks) -> rules.SetCollection:
    members, sizes = [], []
    for cand, pick in zip(cands, picks, strict=True):
        sizes.append(pick.sum(axis=1) + 1)
        rows = np.where(pick, cand, -1)
        members.append(np.column_stack([anchors, rows]))
    rows = np.concatenate(members)
    flat = rows[rows >= 0]  # row-major: each set's anchor then its selection
    sizes_all = np.concatenate(sizes)
    offsets = np.zeros(len(sizes_all) + 1, dtype=np.int64)
    np.cumsum(sizes_all, out=offsets[1:])
    return rules.SetCollection(offsets, flat.astype(np.int64))


def _dedupe(offsets, members) -> rules.SetCollection:
    owner = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    pairs = np.unique(np.stack([owner, members], axis=1), axis=0)
    new_offsets = np.searchsorted(pairs[:, 0], np.arange(len(offsets)))
    return rules.SetCollection(new_offsets.astype(np.int64), pairs[:, 1].astype(np.int64))


def _measure(fn, *args):
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return out, (elapsed, cpu), tracemalloc.get_traced_memory()[1] - base


def run(n_anchors: int, seed: int) -> None:
    n, displayed, similar, queries, vectors = synthetic(n_anchors, seed)
    cosine = rules.cosine_from_vectors(vectors)
    # Baseline: the same pair keys (displayed + similar), counted by plain numpy.unique.
    keys = [rules.pair_keys(displayed, n), rules.pair_keys(similar, n)]
    occurrences = sum(len(k) for k in keys)
    _, t_base, m_base = _measure(
        lambda ks: [np.unique(k, return_counts=True) for k in ks], keys)
    del keys
    _, t_count, m_count = _measure(lambda: (
        rules.count_keys(rules.pair_keys(displayed, n)),
        rules.count_keys(rules.pair_keys(similar, n))))
    result, t_rules, m_rules = _measure(lambda: rules.pairs_label(
        displayed=displayed, similar=similar, queries=queries, text_cosine=cosine,
        n_stickers=n))
    c = result.counts
    print(f"anchors={n_anchors:,} sets={len(displayed) + len(similar):,} "
          f"pair_occurrences={occurrences:,}")
    for label, (wall, cpu), mem in (("numpy.unique baseline", t_base, m_base),
                                    ("keys + count (ours)  ", t_count, m_count),
                                    ("full rules (ours)    ", t_rules, m_rules)):
        print(f"  {label}: wall {wall:6.2f} s  cpu {cpu:6.2f} s  peak {mem / 2**20:6.0f} MiB  "
              f"{occurrences / wall / 1e6:5.1f} M occ/s  ratio wall {wall / t_base[0]:.2f}x "
              f"cpu {cpu / t_base[1]:.2f}x")
    print(f"  positive={c['positive']:,} negative={c['negative']:,} "
          f"candidates={c['negative_candidates']:,} rej_selected={c['rejected_co_selected']:,} "
          f"rej_overlap={c['rejected_query_overlap']:,} rej_cosine={c['rejected_text_cosine']:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--anchors", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tracemalloc.start()
    for n in args.anchors:
        run(n, args.seed)
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    print(f"process max RSS: {maxrss:.2f} GiB")


if __name__ == "__main__":
    main()
