"""The pair rules of paper 001, section 3.2, as pure NumPy (no Django).

Stickers are integers ``0..n_stickers-1``. A collection of sets (displayed sets, similar sets,
query sets) is a CSR pair ``(offsets, members)``: set k is ``members[offsets[k]:offsets[k+1]]``.

- **Positive**: co-selected (together in a similar set) at least ``min_positive`` times.
- **Negative**: co-displayed at least ``min_displayed`` times, never co-selected, query overlap
  ``|Q_i ∩ Q_j| < max_query_overlap`` and text cosine ``< max_text_cosine``.

Why arrays: a campaign of 100,000 anchors x 2 iterations x 21 displayed stickers yields 42
million pair occurrences; a Python dict per pair would need tens of GiB and minutes. Each pair
(i, j), i < j, is the int64 key ``i * n_stickers + j``; all within-set pairs of the sets of one
size come from one ``np.triu_indices`` gather, and counting is one in-place sort plus a
run-length pass. The expensive evidence is computed lazily: query overlap and text cosine only
for the pairs that could still be labelled (positives, as evidence for the reviewer, and
negative candidates), the overlap on a second core while the cosine is asked for.

Why shards (``pairs_label_sharded``, what a build runs): at 1,000,000 anchors the displayed sets
hold 433 M pair occurrences, 3.4 GB of keys before the sort and the run-length arrays, and one
pass needed 20.6 GiB of process memory. A shard is a range of the smaller sticker ``lo``, cut so
that each holds about ``SHARD_OCCURRENCES`` occurrences; its keys are generated, counted and
labelled alone, and because the ranges ascend, the shards' outputs concatenate already sorted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

# Pair occurrences generated per gather while building keys. 4M int64 keys = 32 MB plus the
# two index arrays; small enough to keep peak memory near the size of the final key array.
KEY_CHUNK_OCCURRENCES = 4_000_000
# Pair occurrences a shard of a build holds at most (about): 50M int64 keys = 400 MB, plus
# the sort's run-length arrays, ~1.5 GB at the peak of one shard.
SHARD_OCCURRENCES = 50_000_000
# Pairs whose query overlap is computed at once: each expands to ~2 x 10 (pair, query) keys,
# so 1M pairs cost ~ 20M int64 = 160 MB transiently.
OVERLAP_CHUNK_PAIRS = 1_000_000

# text_cosine(a, b) -> cosine per pair (float, NaN when a sticker has no query text).
TextCosine = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class RuleParams:
    """The four thresholds of a pair build (recorded with its output)."""

    min_positive: int = 2  # co-selected in at least this many similar sets -> positive
    min_displayed: int = 2  # co-displayed in at least this many displayed sets -> may be negative
    max_query_overlap: int = 3  # negative only if |Q_i ∩ Q_j| < this (strict)
    max_text_cosine: float = 0.7  # negative only if cosine < this (strict)


@dataclass
class SetCollection:
    """CSR sets of sticker (or query) ids: set k is ``members[offsets[k]:offsets[k+1]]``."""

    offsets: np.ndarray  # (K+1,) int64
    members: np.ndarray  # (M,) int64
    sorted_members: bool = False  # members ascending within each set (skips a sort per chunk)
    # Derived tables (the padded query rows), built once and shared by a build's shards.
    cache: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_lists(cls, sets: Sequence[Sequence[int]]) -> SetCollection:
        """Build from Python lists (tests, small inputs); members deduplicated and sorted."""
        cleaned = [np.unique(np.asarray(s, dtype=np.int64)) for s in sets]
        sizes = np.array([len(s) for s in cleaned], dtype=np.int64)
        offsets = np.zeros(len(cleaned) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        members = np.concatenate(cleaned) if cleaned else np.zeros(0, dtype=np.int64)
        return cls(offsets, members.astype(np.int64, copy=False), sorted_members=True)

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1


@dataclass
class PairCounts:
    """Distinct pair keys (sorted) with how many sets hold each."""

    keys: np.ndarray  # (P,) int64, sorted, unique
    counts: np.ndarray  # (P,) int64


@dataclass
class LabelledPairs:
    """The output of the rules: labelled pairs, sorted by (a, b), with their evidence."""

    a: np.ndarray  # (P,) int64 sticker index, a < b
    b: np.ndarray  # (P,) int64
    label: np.ndarray  # (P,) int8, 1 positive / 0 negative
    co_selected: np.ndarray  # (P,) int64
    co_displayed: np.ndarray  # (P,) int64
    query_overlap: np.ndarray  # (P,) int64
    text_cosine: np.ndarray  # (P,) float64, NaN when not computable
    counts: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.a)


def pair_keys(sets: SetCollection, n_stickers: int, *, shard: int = 0,
              n_shards: int = 1, lo_range: tuple[int, int] | None = None) -> np.ndarray:
    """All within-set pair keys ``lo * n + hi`` (one per set holding the pair), unsorted.

    Sets must hold distinct members. With ``n_shards > 1`` only pairs whose smaller sticker
    satisfies ``lo % n_shards == shard`` are kept, so shards partition the pairs and each can
    be counted with a fraction of the memory. With ``lo_range=(first, stop)`` only pairs with
    ``first <= lo < stop`` are generated (the build's shards: no pass over the others' pairs).
    """
    if lo_range is not None:
        return _pair_keys_in_range(sets, n_stickers, *lo_range)
    sizes = sets.sizes
    chunks: list[np.ndarray] = []
    # Unsharded, the total is known: write into one buffer instead of concatenating chunks
    # (saves a full copy of the largest array of the build).
    total = int((sizes * (sizes - 1) // 2).sum()) if n_shards == 1 else 0
    out = np.empty(total, dtype=np.int64)
    pos = 0
    for size in np.unique(sizes[sizes >= 2]):
        starts = sets.offsets[:-1][sizes == size]  # (S,) sets of this size
        iu, ju = np.triu_indices(int(size), k=1)  # (size*(size-1)/2,)
        per_set = len(iu)
        step = max(1, KEY_CHUNK_OCCURRENCES // per_set)
        for lo_set in range(0, len(starts), step):
            block = starts[lo_set:lo_set + step]
            rows = _rows(sets, block, size)  # (S', size) sorted
            # Sorted rows make every (iu, ju) gather already (lo, hi): no min/max pass.
            if n_shards == 1:
                dest = out[pos:pos + len(block) * per_set].reshape(len(block), per_set)
                np.add(rows[:, iu] * np.int64(n_stickers), rows[:, ju], out=dest)
                pos += dest.size
                continue
            rows = rows[:, iu], rows[:, ju]
            keep = rows[0] % n_shards == shard  # (S', per_set)
            chunks.append(rows[0][keep] * np.int64(n_stickers) + rows[1][keep])
    if n_shards == 1:
        return out
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)


def _pair_keys_in_range(sets: SetCollection, n_stickers: int, first: int,
                        stop: int) -> np.ndarray:
    """Keys of the pairs whose smaller sticker is in ``[first, stop)``, position by position.

    In a sorted row the pairs with ``lo`` at position i are (row[i], row[j > i]): select the
    rows whose i-th member is in range, then emit one slice. Work is the shard's own keys plus
    one (S', size) comparison per chunk, not a filter over every pair of the build.
    """
    sizes = sets.sizes
    n = np.int64(n_stickers)
    chunks: list[np.ndarray] = []
    for size in np.unique(sizes[sizes >= 2]):
        size = int(size)
        starts = sets.offsets[:-1][sizes == size]  # (S,) sets of this size
        step = max(1, KEY_CHUNK_OCCURRENCES // (size * (size - 1) // 2))
        for lo_set in range(0, len(starts), step):
            rows = _rows(sets, starts[lo_set:lo_set + step], size)  # (S', size) sorted
            inside = (rows >= first) & (rows < stop)  # (S', size)
            for i in np.flatnonzero(inside[:, :-1].any(axis=0)):
                picked = rows[inside[:, i]]  # (S'', size) rows with lo at position i
                chunks.append((picked[:, i:i + 1] * n + picked[:, i + 1:]).ravel())
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)


def _rows(sets: SetCollection, starts: np.ndarray, size: int) -> np.ndarray:
    """(S', size) members of the sets starting at ``starts``, each row ascending. Sorted sets
    stored back to back (every displayed set of a campaign has 21 members) are a reshaped
    view, no gather; treat the result as read-only."""
    count = len(starts)
    if sets.sorted_members and count and starts[-1] - starts[0] == (count - 1) * size:
        return sets.members[starts[0]:starts[0] + count * size].reshape(count, size)
    rows = sets.members[starts[:, None] + np.arange(size)]
    if not sets.sorted_members:
        rows.sort(axis=1)
    return rows


def sort_members(sets: SetCollection, n_stickers: int) -> SetCollection:
    """The same sets with members ascending within each set (one sort of set-major keys)."""
    if sets.sorted_members:
        return sets
    scale = np.repeat(np.arange(len(sets), dtype=np.int64), sets.sizes)  # (M,) set of each
    scale *= np.int64(max(n_stickers, 1))
    keys = scale + sets.members  # (M,) set-major, then member
    keys.sort()
    keys -= scale  # sets keep their positions, so the same offsets hold
    return SetCollection(sets.offsets, keys, sorted_members=True)


def lo_occurrences(sets: SetCollection, n_stickers: int) -> np.ndarray:
    """(N,) int64: in how many within-set pairs each sticker is the smaller one (sorted sets).

    The member at rank r of a sorted set of size z is ``lo`` of ``z - 1 - r`` pairs.
    """
    sizes = sets.sizes
    rank = np.arange(len(sets.members)) - np.repeat(sets.offsets[:-1], sizes)  # (M,)
    weight = np.repeat(sizes - 1, sizes) - rank  # (M,)
    return np.bincount(sets.members, weights=weight, minlength=n_stickers).astype(np.int64)


def shard_bounds(occurrences: np.ndarray, n_shards: int) -> np.ndarray:
    """(n_shards + 1,) sticker boundaries with about equal occurrences per range."""
    cum = np.cumsum(occurrences)  # (N,)
    total = int(cum[-1]) if len(cum) else 0
    targets = total * np.arange(1, n_shards) / n_shards
    inner = np.searchsorted(cum, targets, side="right")  # first sticker past each target
    return np.concatenate([[0], inner, [len(occurrences)]]).astype(np.int64)


def count_keys(keys: np.ndarray) -> PairCounts:
    """Distinct keys and their multiplicities; sorts ``keys`` in place (no copy)."""
    if len(keys) == 0:
        return PairCounts(keys, np.zeros(0, dtype=np.int64))
    keys.sort()
    first = np.empty(len(keys), dtype=bool)  # (K,) a run of equal keys starts here
    first[0] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)  # (P,)
    del first
    counts = np.empty(len(starts), dtype=np.int64)  # run lengths, written in place: no copies
    np.subtract(starts[1:], starts[:-1], out=counts[:-1])
    counts[-1] = len(keys) - starts[-1]
    return PairCounts(keys[starts], counts)


# Stickers with at most this many queries go through the padded (P, K, K) comparison; pairs
# with a larger query set use the sort-based count. 16 covers nearly every real sticker
# (StickerQueries: 7.3 queries on average) at 256 byte-compares per pair.
PADDED_MAX_QUERIES = 16
# Pairs compared at once: (8192, 16, 16) bool = 2 MB, so the comparison block stays in cache
# (a 50k block went to memory and was 25% slower).
PADDED_CHUNK_PAIRS = 8192


def query_overlap(a: np.ndarray, b: np.ndarray, queries: SetCollection) -> np.ndarray:
    """|Q_a ∩ Q_b| per pair (``queries`` must hold distinct ids per sticker).

    Pairs whose stickers both have few queries compare padded (P, K) query rows by
    broadcasting; the others count duplicate (pair, query) keys after one sort.
    """
    sizes = queries.sizes
    width = int(sizes.max()) if len(sizes) else 0
    out = np.zeros(len(a), dtype=np.int64)
    small = np.maximum(sizes[a], sizes[b]) <= PADDED_MAX_QUERIES if len(a) else np.zeros(0, bool)
    if small.all() and width > 0:  # the usual case: no copies of a and b
        return _overlap_padded(a, b, queries, min(width, PADDED_MAX_QUERIES))
    if small.any() and width > 0:
        out[small] = _overlap_padded(a[small], b[small], queries, min(width, PADDED_MAX_QUERIES))
    if (~small).any():
        out[~small] = _overlap_sorted(a[~small], b[~small], queries)
    return out


def _padded_queries(queries: SetCollection, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, K) query ids per sticker, padded with -1, and a copy padded with -2 (so padding
    never matches padding); int32 when the ids fit, to halve the gathers. Cached."""
    key = ("padded", width)
    if key in queries.cache:
        return queries.cache[key]
    sizes = np.minimum(queries.sizes, width)
    fits = not len(queries.members) or int(queries.members.max()) < 2**31 - 1
    pad = np.full((len(sizes), width), -1, dtype=np.int32 if fits else np.int64)  # (N, K)
    row = np.repeat(np.arange(len(sizes)), sizes)
    col = np.arange(len(row)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    keep = col < width
    pad[row[keep], col[keep]] = queries.members[
        np.repeat(queries.offsets[:-1], sizes) + col][keep]
    queries.cache[key] = pad, np.where(pad < 0, -2, pad).astype(pad.dtype)
    return queries.cache[key]


def _overlap_padded(a: np.ndarray, b: np.ndarray, queries: SetCollection,
                    width: int) -> np.ndarray:
    pad, pad_b = _padded_queries(queries, width)
    out = np.empty(len(a), dtype=np.int64)
    for lo in range(0, len(a), PADDED_CHUNK_PAIRS):
        qa = pad[a[lo:lo + PADDED_CHUNK_PAIRS]]  # (C, K)
        qb = pad_b[b[lo:lo + PADDED_CHUNK_PAIRS]]  # (C, K)
        same = (qa[:, :, None] == qb[:, None, :]).reshape(len(qa), -1)  # (C, K*K) bool
        # Summed as uint8: distinct ids match at most K <= 16 times a row; no int64 pass.
        out[lo:lo + len(qa)] = np.add.reduce(same.view(np.uint8), axis=1, dtype=np.uint8)
    return out


def _overlap_sorted(a: np.ndarray, b: np.ndarray, queries: SetCollection) -> np.ndarray:
    """(pair, query) keys of both sides, one sort, a duplicate is a shared query."""
    out = np.zeros(len(a), dtype=np.int64)
    n_queries = np.int64(queries.members.max() + 1) if len(queries.members) else np.int64(1)
    sizes = queries.sizes
    for lo in range(0, len(a), OVERLAP_CHUNK_PAIRS):
        ca, cb = a[lo:lo + OVERLAP_CHUNK_PAIRS], b[lo:lo + OVERLAP_CHUNK_PAIRS]
        pair = np.arange(len(ca), dtype=np.int64)
        keys = np.concatenate([_pair_query_keys(pair, ca, queries, sizes, n_queries),
                               _pair_query_keys(pair, cb, queries, sizes, n_queries)])
        keys.sort()
        dup = keys[1:][keys[1:] == keys[:-1]]  # a (pair, query) on both sides appears twice
        out[lo:lo + len(ca)] = np.bincount(dup // n_queries, minlength=len(ca))
    return out


def _pair_query_keys(pair: np.ndarray, sticker: np.ndarray, queries: SetCollection,
                     sizes: np.ndarray, n_queries: np.int64) -> np.ndarray:
    counts = sizes[sticker]  # (P,)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    first = np.cumsum(counts) - counts  # (P,) where each pair's run starts in the output
    # Position of each entry in queries.members: its sticker's offset + its rank in the run.
    pos = np.repeat(queries.offsets[sticker] - first, counts) + np.arange(total)  # (T,)
    return np.repeat(pair * n_queries, counts) + queries.members[pos]


def cosine_from_vectors(vectors: np.ndarray) -> TextCosine:
    """A text-cosine callback over L2-normalised rows (a row of NaN = no query text)."""
    def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = np.empty(len(a), dtype=np.float64)
        # (step, D) float32 gathers of ~4 MB per side: they stay in cache for the dot product,
        # which is several times faster than one huge gather.
        step = max(1, 4_000_000 // max(1, vectors.shape[1] * 4))
        for lo in range(0, len(a), step):
            va, vb = vectors[a[lo:lo + step]], vectors[b[lo:lo + step]]  # (p, D)
            # float32 dot (error ~1e-7, far below any threshold step) then float64 for output.
            out[lo:lo + len(va)] = np.einsum("ij,ij->i", va, vb)
        return out
    return cosine


def pairs_label(*, displayed: SetCollection, similar: SetCollection, queries: SetCollection,
                text_cosine: TextCosine, n_stickers: int, params: RuleParams = RuleParams(),
                shard: int = 0, n_shards: int = 1,
                lo_range: tuple[int, int] | None = None) -> LabelledPairs:
    """Apply the pair rules; see the module docstring. One shard of the pairs when sharded
    (``shard``/``n_shards`` by ``lo`` modulo, or a ``lo_range`` as ``pairs_label_sharded``)."""
    n = np.int64(n_stickers)
    part = {"shard": shard, "n_shards": n_shards, "lo_range": lo_range}
    shown = count_keys(pair_keys(displayed, n_stickers, **part))
    chosen = count_keys(pair_keys(similar, n_stickers, **part))
    # Co-selected pairs normally are co-displayed too (a selection is among the candidates),
    # but nothing here relies on it: the pairs considered are the union of both key sets.
    keys, co_displayed, co_selected = _align(shown, chosen)

    positive = co_selected >= params.min_positive
    candidate = ~positive & (co_displayed >= params.min_displayed)
    n_candidates = int(candidate.sum())
    rej_selected = candidate & (co_selected > 0)
    candidate &= ~rej_selected

    idx = np.flatnonzero(positive | candidate)  # the only pairs whose evidence we need
    a, b = keys[idx] // n, keys[idx] % n
    is_candidate = candidate[idx]
    # The query overlap (pure NumPy, which releases the GIL) runs on a second thread while
    # this one asks ``text_cosine``, which stays on the caller's thread (the service's callback
    # reads the database). So the cosine is asked for every pair that may need it, including
    # candidates the overlap rejects; only the pairs kept below carry it.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(query_overlap, a, b, queries)
        cosine = np.full(len(idx), np.nan)
        if len(idx):
            cosine[:] = text_cosine(a, b)
        overlap = pending.result()
    rej_overlap = is_candidate & (overlap >= params.max_query_overlap)
    passing = is_candidate & ~rej_overlap
    cosine[~(positive[idx] | passing)] = np.nan  # evidence only where the rules used it
    no_text = passing & np.isnan(cosine)
    # NaN (a sticker without queries): dissimilarity cannot be shown, so not a negative.
    rej_cosine = passing & ~no_text & (cosine >= params.max_text_cosine)
    negative = passing & ~no_text & ~rej_cosine

    keep = positive[idx] | negative
    counts = {
        "pairs_co_displayed": int(len(shown.keys)),
        "pairs_co_selected": int(len(chosen.keys)),
        "displayed_occurrences": int(shown.counts.sum()),
        "selected_occurrences": int(chosen.counts.sum()),
        "positive": int(positive.sum()),
        "negative": int(negative.sum()),
        "negative_candidates": n_candidates,
        "rejected_co_selected": int(rej_selected.sum()),
        "rejected_query_overlap": int(rej_overlap.sum()),
        "rejected_text_cosine": int(rej_cosine.sum()),
        "rejected_no_text": int(no_text.sum()),
    }
    return LabelledPairs(
        a=a[keep], b=b[keep], label=positive[idx][keep].astype(np.int8),
        co_selected=co_selected[idx][keep], co_displayed=co_displayed[idx][keep],
        query_overlap=overlap[keep], text_cosine=cosine[keep], counts=counts,
    )


def _align(shown: PairCounts, chosen: PairCounts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pair keys with their co-displayed and co-selected counts, aligned."""
    pos = np.searchsorted(shown.keys, chosen.keys)
    clipped = np.minimum(pos, max(len(shown.keys) - 1, 0))
    if len(shown.keys) and (shown.keys[clipped] == chosen.keys).all():
        # The usual case (every selection is among the candidates): the displayed keys are
        # all the keys, so only the small co-selected table needs placing.
        co_selected = np.zeros(len(shown.keys), dtype=np.int64)
        co_selected[pos] = chosen.counts
        return shown.keys, shown.counts, co_selected
    keys = _sorted_union(shown.keys, chosen.keys)
    return keys, _lookup(keys, shown), _lookup(keys, chosen)


def _sorted_union(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Union of two sorted unique arrays (np.union1d hashes; a merge by sort is faster)."""
    both = np.concatenate([x, y])
    both.sort()
    return both[np.concatenate(([True], both[1:] != both[:-1]))] if len(both) else both


def _lookup(keys: np.ndarray, table: PairCounts) -> np.ndarray:
    """``table.counts`` for each of ``keys`` (0 where absent); both sorted."""
    if len(table.keys) == 0:
        return np.zeros(len(keys), dtype=np.int64)
    pos = np.minimum(np.searchsorted(table.keys, keys), len(table.keys) - 1)
    return np.where(table.keys[pos] == keys, table.counts[pos], 0)


def labelled_pairs_concat(parts: Sequence[LabelledPairs]) -> LabelledPairs:
    """Merge shard results (disjoint pairs) into one result sorted by (a, b), counts summed."""
    if len(parts) == 1:
        return parts[0]
    cat = {name: np.concatenate([getattr(p, name) for p in parts])
           for name in ("a", "b", "label", "co_selected", "co_displayed", "query_overlap",
                        "text_cosine")}
    order = np.lexsort((cat["b"], cat["a"]))
    counts: dict[str, int] = {}
    for p in parts:
        for k, v in p.counts.items():
            counts[k] = counts.get(k, 0) + v
    return LabelledPairs(**{k: v[order] for k, v in cat.items()}, counts=counts)


ShardDone = Callable[[int, int], None]  # (shards done, shards in all) -> None


def pairs_label_sharded(*, displayed: SetCollection, similar: SetCollection,
                        queries: SetCollection, text_cosine: TextCosine, n_stickers: int,
                        params: RuleParams = RuleParams(),
                        shard_occurrences: int = SHARD_OCCURRENCES,
                        on_shard: ShardDone | None = None) -> LabelledPairs:
    """The rules over ranges of ``lo`` holding about ``shard_occurrences`` displayed pair
    occurrences each (what a pair build runs): the same result as ``pairs_label``, in bounded
    memory. ``counts["shards"]`` says how many ranges there were."""
    displayed = sort_members(displayed, n_stickers)
    similar = sort_members(similar, n_stickers)
    occurrences = lo_occurrences(displayed, n_stickers)  # (N,)
    n_shards = max(1, -(-int(occurrences.sum()) // max(1, shard_occurrences)))
    bounds = shard_bounds(occurrences, n_shards)
    del occurrences
    parts = []
    for s in range(n_shards):
        lo_range = (int(bounds[s]), int(bounds[s + 1]))
        parts.append(pairs_label(displayed=displayed, similar=similar, queries=queries,
                                 text_cosine=text_cosine, n_stickers=n_stickers,
                                 params=params, lo_range=lo_range))
        if on_shard is not None:
            on_shard(s + 1, n_shards)
    result = _concat_ascending(parts)
    result.counts["shards"] = n_shards
    return result


def _concat_ascending(parts: list[LabelledPairs]) -> LabelledPairs:
    """Concatenate shard results whose ``a`` ranges ascend (already sorted by (a, b)), one
    field at a time, releasing each part's field as it goes: the peak is the output plus one
    field, not twice the output as a sort would need. Consumes ``parts``."""
    counts: dict[str, int] = {}
    for p in parts:
        for k, v in p.counts.items():
            counts[k] = counts.get(k, 0) + v
    fields = {}
    for name in ("a", "b", "label", "co_selected", "co_displayed", "query_overlap",
                 "text_cosine"):
        fields[name] = np.concatenate([getattr(p, name) for p in parts])
        for p in parts:
            setattr(p, name, None)
    parts.clear()
    return LabelledPairs(**fields, counts=counts)
