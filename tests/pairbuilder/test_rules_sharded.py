"""The sharded pair build (``pairs_label_sharded``, what the build service runs) gives exactly
the unsharded ``pairs_label`` result: every pair, label, piece of evidence and count."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pairbuilder.rules import (
    RuleParams,
    SetCollection,
    lo_occurrences,
    pair_keys,
    pairs_label,
    pairs_label_sharded,
    shard_bounds,
    sort_members,
)

FIELDS = ("a", "b", "label", "co_selected", "co_displayed", "query_overlap", "text_cosine")


def _hash_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A deterministic cosine per pair, spread over both sides of 0.7, NaN for a few."""
    x = ((a * 7919 + b * 104729) % 1000) / 1000.0
    return np.where((a + b) % 17 == 0, np.nan, x)


def _unsorted(sets: list[list[int]]) -> SetCollection:
    """CSR sets in the order given (members not sorted), as the bench's synthetic sets are."""
    sizes = np.array([len(s) for s in sets], dtype=np.int64)
    offsets = np.zeros(len(sets) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    members = np.array([m for s in sets for m in s], dtype=np.int64)
    return SetCollection(offsets, members)


def _assert_same(got, want) -> None:
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    assert {k: v for k, v in got.counts.items() if k != "shards"} == want.counts


def _campaign(rng: np.random.Generator, n: int, n_sets: int):
    displayed, similar = [], []
    for _ in range(n_sets):
        shown = rng.choice(n, size=int(rng.integers(1, 8)), replace=False).tolist()
        displayed.append(shown)
        similar.append([m for m in shown if rng.random() < 0.5] or shown[:1])
    queries = [rng.choice(12, size=int(rng.integers(0, 6)), replace=False).tolist()
               for _ in range(n)]
    return displayed, similar, queries


def test_sharded_build_equals_unsharded_on_a_random_campaign():
    # given a campaign of 300 sets over 60 stickers, members in no particular order
    rng = np.random.default_rng(0)
    displayed, similar, queries = _campaign(rng, 60, 300)
    params = RuleParams(min_positive=2, min_displayed=2, max_query_overlap=2,
                        max_text_cosine=0.7)
    kw = dict(displayed=_unsorted(displayed), similar=_unsorted(similar),
              queries=SetCollection.from_lists(queries), text_cosine=_hash_cosine,
              n_stickers=60, params=params)
    whole = pairs_label(**kw)
    seen = []
    # when the build is cut into ranges of about 200 occurrences
    sharded = pairs_label_sharded(**kw, shard_occurrences=200,
                                  on_shard=lambda done, total: seen.append((done, total)))
    # then: several shards, the progress callback saw each, and the result is identical
    assert sharded.counts["shards"] > 3
    assert seen == [(i + 1, sharded.counts["shards"]) for i in range(sharded.counts["shards"])]
    assert len(whole) > 50 and set(whole.label.tolist()) == {0, 1}
    _assert_same(sharded, whole)


def test_one_shard_when_under_the_limit():
    # given a tiny campaign under the default 50 M occurrences
    sets = [[3, 1, 2], [1, 2, 0]]
    # when
    result = pairs_label_sharded(displayed=_unsorted(sets), similar=_unsorted(sets),
                                 queries=SetCollection.from_lists([[]] * 4),
                                 text_cosine=_hash_cosine, n_stickers=4)
    # then
    assert result.counts["shards"] == 1
    assert list(zip(result.a.tolist(), result.b.tolist(), strict=True)) == [(1, 2)]


def test_lo_ranges_partition_the_keys():
    # given sorted and unsorted copies of the same sets
    rng = np.random.default_rng(1)
    sets = [rng.choice(40, size=int(rng.integers(2, 9)), replace=False).tolist()
            for _ in range(100)]
    raw = _unsorted(sets)
    ordered = sort_members(raw, 40)
    occ = lo_occurrences(ordered, 40)
    bounds = shard_bounds(occ, 5)
    # when the keys of each lo range are generated
    parts = [pair_keys(raw, 40, lo_range=(int(bounds[s]), int(bounds[s + 1])))
             for s in range(5)]
    # then they partition the unsharded keys, each range holds its predicted count, and the
    # per-sticker lo counts are those of the pairs
    whole = np.sort(pair_keys(raw, 40))
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), whole)
    assert [len(p) for p in parts] == [int(occ[bounds[s]:bounds[s + 1]].sum()) for s in range(5)]
    np.testing.assert_array_equal(occ, np.bincount(whole // 40, minlength=40))
    assert bounds[0] == 0 and bounds[-1] == 40 and (np.diff(bounds) >= 0).all()
    for p, s in zip(parts, range(5), strict=True):
        assert ((p // 40 >= bounds[s]) & (p // 40 < bounds[s + 1])).all()
    # and sorting the members kept every set
    for k, s in enumerate(sets):
        assert ordered.members[ordered.offsets[k]:ordered.offsets[k + 1]].tolist() == sorted(s)


def test_shard_bounds_balance_the_occurrences():
    # given 10 stickers with 10 occurrences each, then one heavy sticker
    occ = np.array([10] * 10 + [100], dtype=np.int64)
    # when
    bounds = shard_bounds(occ, 2)
    # then the heavy sticker has a shard to itself
    assert bounds.tolist() == [0, 10, 11]


@st.composite
def _campaigns(draw):
    n = draw(st.integers(2, 9))
    sticker = st.integers(0, n - 1)
    displayed, similar = [], []
    for _ in range(draw(st.integers(0, 12))):
        shown = draw(st.lists(sticker, min_size=1, max_size=6, unique=True))
        displayed.append(shown)
        similar.append(draw(st.lists(st.sampled_from(shown), unique=True)))
    if draw(st.booleans()):  # a similar set not shown together
        similar.append(draw(st.lists(sticker, min_size=2, max_size=3, unique=True)))
    queries = [draw(st.lists(st.integers(0, 6), unique=True, max_size=5)) for _ in range(n)]
    params = RuleParams(min_positive=draw(st.integers(1, 3)), min_displayed=draw(st.integers(1, 3)),
                        max_query_overlap=draw(st.integers(1, 4)),
                        max_text_cosine=draw(st.sampled_from([0.5, 0.7])))
    return n, displayed, similar, queries, params


@settings(max_examples=300, deadline=None)
@given(_campaigns(), st.integers(1, 6))
def test_sharded_matches_unsharded_and_the_reference(campaign, shard_occurrences):
    n, displayed, similar, queries, params = campaign
    kw = dict(displayed=_unsorted(displayed), similar=_unsorted(similar),
              queries=SetCollection.from_lists(queries), text_cosine=_hash_cosine,
              n_stickers=n, params=params)
    # when
    sharded = pairs_label_sharded(**kw, shard_occurrences=shard_occurrences)
    # then identical to one pass, and its co-displayed counts are those of Python sets
    _assert_same(sharded, pairs_label(**kw))
    co_d: dict = {}
    for s in displayed:
        for p in combinations(sorted(s), 2):
            co_d[p] = co_d.get(p, 0) + 1
    for a, b, d in zip(sharded.a, sharded.b, sharded.co_displayed, strict=True):
        assert co_d.get((int(a), int(b)), 0) == d


def _records_decode(payload: bytes) -> list[tuple]:
    """Binary COPY records of Pair rows back to tuples (NULL as None), as PostgreSQL reads
    them: field count, then (length, big-endian value) per column."""
    kinds = (">i8", ">i8", ">i8", ">i2", ">i4", ">i4", ">i4", ">f8")
    rows, pos = [], 0
    while pos < len(payload):
        assert np.frombuffer(payload, ">i2", 1, pos)[0] == len(kinds)
        pos += 2
        row = []
        for kind in kinds:
            length = int(np.frombuffer(payload, ">i4", 1, pos)[0])
            pos += 4
            if length == -1:
                row.append(None)
                continue
            assert length == np.dtype(kind).itemsize
            row.append(np.frombuffer(payload, kind, 1, pos)[0].item())
            pos += length
        rows.append(tuple(row))
    return rows


def test_pair_copy_payload_holds_the_pair_rows_in_order():
    # given 10 labelled pairs (the positive without text); no database
    from pairbuilder.services.pair_copy import pair_copy_payload

    result = pairs_label_sharded(
        displayed=_unsorted([[0, 1, 2, 3, 4], [4, 3, 2, 1, 0]]),
        similar=_unsorted([[0, 1], [1, 0], [2], [3]]),
        queries=SetCollection.from_lists([[1], [1], [], [2], [3]]),
        text_cosine=lambda a, b: np.where((a == 0) & (b == 1), np.nan, 0.1234567),
        n_stickers=5)
    pks = np.array([50, 40, 30, 20, 10])
    # when encoded whole and in two parts
    whole = pair_copy_payload(9, result, pks, slice(0, None))
    parts = (pair_copy_payload(9, result, pks, slice(0, 3))
             + pair_copy_payload(9, result, pks, slice(3, None)))
    # then one record per pair in (a, b) order: build, the stickers' pks, label, evidence, and
    # the cosine rounded to 6 places or NULL
    assert whole == parts
    rows = _records_decode(whole)
    assert len(rows) == 10
    assert rows[0] == (9, 50, 40, 1, 2, 2, 1, None)
    assert rows[1] == (9, 50, 30, 0, 0, 2, 0, 0.123457)
    assert rows[-1] == (9, 20, 10, 0, 0, 2, 0, 0.123457)
    assert [r[1:3] for r in rows] == [(50, 40), (50, 30), (50, 20), (50, 10), (40, 30),
                                      (40, 20), (40, 10), (30, 20), (30, 10), (20, 10)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.floats(-1, 1, width=32), st.floats(-1, 1)), min_size=1,
                max_size=50))
def test_cosine_rounding_is_pythons_round(values):
    # given cosines (float32 ones, as the rules give, and any float64)
    from pairbuilder.services.pair_copy import cosine_rounded

    x = np.array(values, dtype=np.float64)
    # when rounded in bulk / then each equals Python's round(c, 6), what the text COPY wrote
    assert cosine_rounded(x).tolist() == [round(v, 6) for v in x.tolist()]


def test_cosine_rounding_on_exact_halves():
    from pairbuilder.services.pair_copy import cosine_rounded

    x = np.array([0.0000005, 0.0000015, 0.1234565, -0.2500005, 0.7, 0.69999949999])
    assert cosine_rounded(x).tolist() == [round(v, 6) for v in x.tolist()]
