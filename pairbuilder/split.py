"""Split pairs into train / validation / test by sticker (pure NumPy + SciPy, no Django).

No sticker may be in two splits (Triple-S: train and test share no sticker). Method:

1. Connected components of the pair graph: a component placed whole in one split loses no
   pair. Components are taken largest first (ties in a seeded random order) and each goes to
   the split that is furthest below its target pair count.
2. A component too large for any split's remaining room (real pair graphs usually have one
   giant component) is cut: its stickers are ordered breadth-first from a seeded start, so
   neighbours stay together, and cut into consecutive runs sized to the splits' remaining room.
   Pairs whose stickers land in different splits are dropped and counted.

Deterministic: same pairs, ratios and seed give the same split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components

SPLITS = ("train", "val", "test")
CUT_TRIES = 32  # breadth-first starts tried when cutting a giant component (each O(pairs))


@dataclass
class SplitResult:
    """Split index per pair (-1 = dropped, its stickers ended up in different splits)."""

    pair_split: np.ndarray  # (P,) int8 in {-1, 0, 1, 2}
    sticker_split: np.ndarray  # (N,) int8, -1 for stickers in no pair
    dropped: int


def split_by_sticker(a: np.ndarray, b: np.ndarray, n_stickers: int,
                     ratios: tuple[float, float, float], seed: int) -> SplitResult:
    """Assign stickers (and so pairs) to splits; see the module docstring."""
    ratios_arr = np.asarray(ratios, dtype=np.float64)
    if len(ratios_arr) != 3 or (ratios_arr < 0).any() or ratios_arr.sum() <= 0:
        raise ValueError(f"ratios must be three non-negative numbers, got {ratios}")
    ratios_arr = ratios_arr / ratios_arr.sum()
    rng = np.random.default_rng(seed)
    sticker_split = np.full(n_stickers, -1, dtype=np.int8)
    if len(a) == 0:
        return SplitResult(np.zeros(0, dtype=np.int8), sticker_split, 0)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n_stickers, n_stickers)).tocsr()
    graph = graph + graph.T
    n_comp, comp = connected_components(graph, directed=False)
    comp_pairs = np.bincount(comp[a], minlength=n_comp)  # pairs per component
    room = ratios_arr * len(a)  # pairs each split still wants
    tiebreak = rng.permutation(n_comp)
    order = np.lexsort((tiebreak, -comp_pairs))
    by_comp = np.argsort(comp, kind="stable")  # stickers grouped by component
    bounds = np.searchsorted(comp[by_comp], np.arange(n_comp + 1))
    for c in order:
        if comp_pairs[c] == 0:
            continue  # a sticker in no pair
        members = by_comp[bounds[c]:bounds[c + 1]]
        target = int(np.argmax(room))
        if comp_pairs[c] <= room[target] or comp_pairs[c] <= 1:
            sticker_split[members] = target
            room[target] -= comp_pairs[c]
            continue
        _cut_component(graph, a, b, members, comp_pairs[c], room, rng, sticker_split)
    sa, sb = sticker_split[a], sticker_split[b]
    pair_split = np.where(sa == sb, sa, -1).astype(np.int8)
    return SplitResult(pair_split, sticker_split, int((pair_split < 0).sum()))


def _cut_component(graph, a: np.ndarray, b: np.ndarray, members: np.ndarray, n_pairs: int,
                   room: np.ndarray, rng: np.random.Generator,
                   sticker_split: np.ndarray) -> None:
    """Cut one large component; of ``CUT_TRIES`` seeded start stickers keep the cut that
    drops the fewest pairs."""
    starts = rng.choice(members, size=min(CUT_TRIES, len(members)), replace=False)
    edges = (sticker_split[a] == -1) & np.isin(a, members)  # this component's pairs
    best = None
    for start in starts:
        trial, trial_room = sticker_split.copy(), room.copy()
        _cut_from(graph, int(start), a, b, n_pairs, trial_room, trial)
        dropped = int((trial[a[edges]] != trial[b[edges]]).sum())
        if best is None or dropped < best[0]:
            best = (dropped, trial, trial_room)
    sticker_split[:] = best[1]
    room[:] = best[2]


def _cut_from(graph, start: int, a: np.ndarray, b: np.ndarray, n_pairs: int,
              room: np.ndarray, sticker_split: np.ndarray) -> None:
    """Cut one component into runs of a breadth-first order from ``start``, sized by room.

    The splits with the least room take runs from the far end of the order (the periphery,
    loosely tied to the rest), each run just long enough to hold its target number of pairs
    *inside* it; the split with the most room (train, usually) takes the rest, so the pairs
    lost at the cuts come out of the largest split.
    """
    bfs = breadth_first_order(graph, start, directed=False, return_predecessors=False)
    pos = np.full(graph.shape[0], -1, dtype=np.int64)
    pos[bfs] = np.arange(len(bfs))
    inside = (pos[a] >= 0) & (pos[b] >= 0)
    first = np.minimum(pos[a[inside]], pos[b[inside]])  # (E,) earlier endpoint in the order
    later = np.maximum(pos[a[inside]], pos[b[inside]])  # (E,) later endpoint
    share = np.clip(room, 0, None)
    share = share / share.sum() if share.sum() > 0 else np.full(3, 1 / 3)
    split_order = np.argsort(share, kind="stable")  # least room first, most room last
    hi = len(bfs)
    for split in split_order[:-1]:
        target = share[split] * n_pairs
        lo = hi
        if target > 0 and hi > 0:
            # Pairs inside [h, hi) for every h: edges ending before hi, counted by first end.
            inner = first[later < hi]
            internal = np.cumsum(np.bincount(inner, minlength=hi)[::-1])[::-1]  # (hi,)
            # The shortest tail run [h, hi) that holds the target number of pairs.
            enough = np.flatnonzero(internal >= target)
            lo = int(enough[-1]) if len(enough) else 0
            room[split] -= internal[lo]
        sticker_split[bfs[lo:hi]] = split
        hi = lo
    last = split_order[-1]
    sticker_split[bfs[:hi]] = last
    room[last] -= int((later < hi).sum())
