"""Pair-build benchmark on synthetic annotations (pure rules, no database).

    .venv/bin/python bench/bench_pairbuild.py [--anchors 10000 100000] [--seed 0]
    /usr/bin/time -v .venv/bin/python bench/bench_pairbuild.py --anchors 1000000

Per size: anchors x 2 iterations x 21 displayed stickers (anchor + 20 candidates; iteration 2
keeps 10 of iteration 1's candidates so pairs recur), random selections, 5-12 queries per
sticker from a 20,000-query vocabulary, random 64-d text vectors.

Ours is ``rules.pairs_label_sharded``, the code path the build service runs, with the service's
``SHARD_OCCURRENCES`` (``--shard-occurrences`` to force more shards on a small campaign). The
peer is a plain ``numpy.unique(keys, return_counts=True)`` over the same pair keys in the same
run, shard by shard over the same ranges (one call over all 433 M keys of 1,000,000 anchors
needs ~16 GiB, more than this shared machine has; a single sort is also slower per key, so the
per-shard peer is the faster, stricter one). ``--whole-unique`` adds the one-call figure where
it fits. Wall and CPU time are both printed: on a shared machine the CPU time (this process
only) is the steadier figure for the ratio. Memory: the process's max RSS after each phase
(the build's is what the 8 GiB target is about), and tracemalloc's peak of each phase.
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


def _max_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB


def unique_per_shard(displayed, similar, n: int, shard_occurrences: int):
    """numpy.unique over the build's keys, range by range; only the unique calls are timed."""
    displayed = rules.sort_members(displayed, n)
    similar = rules.sort_members(similar, n)
    occ = rules.lo_occurrences(displayed, n)
    n_shards = max(1, -(-int(occ.sum()) // shard_occurrences))
    bounds = rules.shard_bounds(occ, n_shards)
    wall = cpu = 0.0
    peak = occurrences = 0
    for s in range(n_shards):
        lo_range = (int(bounds[s]), int(bounds[s + 1])) if n_shards > 1 else None
        for sets in (displayed, similar):
            keys = rules.pair_keys(sets, n, lo_range=lo_range)
            occurrences += len(keys)
            _, (w, c), m = _measure(lambda k: np.unique(k, return_counts=True), keys)
            wall, cpu, peak = wall + w, cpu + c, max(peak, m)
            del keys
    return occurrences, n_shards, (wall, cpu), peak


def unique_whole(displayed, similar, n: int):
    """numpy.unique over all keys at once (memory: ~5x the keys)."""
    keys = [rules.pair_keys(displayed, n), rules.pair_keys(similar, n)]
    _, t, m = _measure(lambda ks: [np.unique(k, return_counts=True) for k in ks], keys)
    return t, m


def run(n_anchors: int, seed: int, shard_occurrences: int, whole_unique: bool) -> None:
    n, displayed, similar, queries, vectors = synthetic(n_anchors, seed)
    cosine = rules.cosine_from_vectors(vectors)
    rss = {"inputs": _max_rss_gib()}
    occurrences, n_shards, t_base, m_base = unique_per_shard(displayed, similar, n,
                                                             shard_occurrences)
    rss["numpy.unique"] = _max_rss_gib()
    rows = [("numpy.unique per shard", t_base, m_base)]
    if whole_unique:
        t_whole, m_whole = unique_whole(displayed, similar, n)
        rss["numpy.unique whole"] = _max_rss_gib()
        rows.append(("numpy.unique one call ", t_whole, m_whole))
    result, t_rules, m_rules = _measure(lambda: rules.pairs_label_sharded(
        displayed=displayed, similar=similar, queries=queries, text_cosine=cosine,
        n_stickers=n, shard_occurrences=shard_occurrences))
    rss["build"] = _max_rss_gib()
    rows.append(("full rules, sharded   ", t_rules, m_rules))
    c = result.counts
    print(f"anchors={n_anchors:,} sets={len(displayed) + len(similar):,} "
          f"pair_occurrences={occurrences:,} shards={c['shards']} (peer {n_shards}, "
          f"{shard_occurrences:,} occurrences a shard)")
    for label, (wall, cpu), mem in rows:
        print(f"  {label}: wall {wall:6.2f} s  cpu {cpu:6.2f} s  peak {mem / 2**20:6.0f} MiB  "
              f"{occurrences / wall / 1e6:5.1f} M occ/s  ratio wall {wall / t_base[0]:.2f}x "
              f"cpu {cpu / t_base[1]:.2f}x")
    print(f"  positive={c['positive']:,} negative={c['negative']:,} "
          f"candidates={c['negative_candidates']:,} rej_selected={c['rejected_co_selected']:,} "
          f"rej_overlap={c['rejected_query_overlap']:,} rej_cosine={c['rejected_text_cosine']:,}")
    print("  process max RSS after " + ", ".join(f"{k} {v:.2f} GiB" for k, v in rss.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--anchors", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shard-occurrences", type=int, default=rules.SHARD_OCCURRENCES,
                        help="pair occurrences a shard (default: the build service's)")
    parser.add_argument("--whole-unique", action="store_true",
                        help="also time one numpy.unique over all keys (~5x their memory)")
    args = parser.parse_args()
    tracemalloc.start()
    for n in args.anchors:
        run(n, args.seed, args.shard_occurrences, args.whole_unique)
    print(f"process max RSS: {_max_rss_gib():.2f} GiB")


if __name__ == "__main__":
    main()
