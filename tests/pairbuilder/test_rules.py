"""The pair rules on hand-made cases (every condition, every threshold edge) and a property
test against a slow reference written with Python sets."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pairbuilder.rules import (
    RuleParams,
    SetCollection,
    cosine_from_vectors,
    labelled_pairs_concat,
    pairs_label,
    query_overlap,
)


def _cosine_table(table: dict[tuple[int, int], float], default: float = 0.0):
    def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.array([table.get((int(x), int(y)), default) for x, y in zip(a, b, strict=True)])
    return cosine


def _run(displayed, similar, queries, n, cosine=None, params=None, **kw):
    return pairs_label(displayed=SetCollection.from_lists(displayed),
                       similar=SetCollection.from_lists(similar),
                       queries=SetCollection.from_lists(queries),
                       text_cosine=cosine or _cosine_table({}), n_stickers=n,
                       params=params or RuleParams(), **kw)


def _as_dict(result) -> dict[tuple[int, int], int]:
    return {(int(a), int(b)): int(y) for a, b, y in zip(result.a, result.b, result.label,
                                                       strict=True)}


def test_positive_needs_exactly_two_similar_sets():
    # given: 0 and 1 together in two similar sets, 0 and 2 in one
    similar = [[0, 1, 2], [0, 1]]
    displayed = [[0, 1, 2, 3], [0, 1, 3]]
    # when
    result = _run(displayed, similar, [[]] * 4, 4)
    # then: exactly 2 -> positive, 1 -> not
    labels = _as_dict(result)
    assert labels[(0, 1)] == 1
    assert (0, 2) not in labels and (1, 2) not in labels
    assert result.counts["positive"] == 1


def test_negative_needs_exactly_two_displayed_sets():
    # given: 2 and 3 co-displayed twice, 2 and 4 once, never selected
    displayed = [[0, 2, 3, 4], [1, 2, 3]]
    similar = [[0], [1]]
    # when
    result = _run(displayed, similar, [[]] * 5, 5)
    labels = _as_dict(result)
    # then
    assert labels[(2, 3)] == 0
    assert (2, 4) not in labels


def test_once_co_selected_is_never_negative():
    # given: co-displayed three times but co-selected once
    displayed = [[0, 1, 2], [0, 1, 2], [0, 1, 2]]
    similar = [[0, 1], [0], [2]]
    # when
    result = _run(displayed, similar, [[]] * 3, 3)
    # then
    assert (0, 1) not in _as_dict(result)
    assert result.counts["rejected_co_selected"] == 1


def test_exactly_three_shared_queries_is_not_negative_two_is():
    # given: pairs (0,1) share 3 queries, (2,3) share 2
    displayed = [[0, 1, 2, 3], [0, 1, 2, 3]]
    similar = [[0], [1]]
    queries = [[1, 2, 3, 9], [1, 2, 3], [4, 5, 6], [4, 5, 7]]
    # when
    result = _run(displayed, similar, queries, 4)
    labels = _as_dict(result)
    # then
    assert (0, 1) not in labels
    assert labels[(2, 3)] == 0
    assert result.query_overlap[list(_as_dict(result)).index((2, 3))] == 2
    assert result.counts["rejected_query_overlap"] >= 1


def test_cosine_exactly_point_seven_is_not_negative():
    # given: two candidate negatives, cosine exactly 0.7 and just below
    displayed = [[0, 1, 2, 3], [0, 1, 2, 3]]
    similar = [[0], [1]]
    table = {(0, 1): 0.7, (2, 3): 0.6999999, (0, 2): 0.9}
    # when
    result = _run(displayed, similar, [[]] * 4, 4, cosine=_cosine_table(table))
    labels = _as_dict(result)
    # then
    assert (0, 1) not in labels and (0, 2) not in labels
    assert labels[(2, 3)] == 0
    assert result.counts["rejected_text_cosine"] == 2


def test_missing_text_is_not_negative():
    displayed = [[0, 1], [0, 1]]
    result = _run(displayed, [[0], [1]], [[], []], 2, cosine=_cosine_table({}, np.nan))
    assert len(result) == 0 and result.counts["rejected_no_text"] == 1


def test_thresholds_are_parameters():
    # given: a pair co-selected once, co-displayed once
    displayed, similar = [[0, 1]], [[0, 1]]
    params = RuleParams(min_positive=1, min_displayed=1)
    # when / then
    assert _as_dict(_run(displayed, similar, [[], []], 2, params=params)) == {(0, 1): 1}


def test_cosine_from_vectors_and_overlap():
    vectors = np.array([[1, 0], [0.6, 0.8], [0, 1]], dtype=np.float32)
    cos = cosine_from_vectors(vectors)(np.array([0, 1]), np.array([1, 2]))
    assert np.allclose(cos, [0.6, 0.8])
    q = SetCollection.from_lists([[1, 2, 3], [2, 3], [], [3]])
    assert query_overlap(np.array([0, 0, 2, 1]), np.array([1, 2, 3, 3]), q).tolist() == [2, 0, 0, 1]


# ---- property test against a slow, obviously correct reference ----

def _reference(displayed, similar, queries, cosine_table, params):
    co_d: dict = {}
    co_s: dict = {}
    for s in displayed:
        for p in combinations(sorted(set(s)), 2):
            co_d[p] = co_d.get(p, 0) + 1
    for s in similar:
        for p in combinations(sorted(set(s)), 2):
            co_s[p] = co_s.get(p, 0) + 1
    out = {}
    for p in set(co_d) | set(co_s):
        if co_s.get(p, 0) >= params.min_positive:
            overlap = len(set(queries[p[0]]) & set(queries[p[1]]))
            out[p] = (1, co_s.get(p, 0), co_d.get(p, 0), overlap)
        elif (co_d.get(p, 0) >= params.min_displayed and co_s.get(p, 0) == 0
              and len(set(queries[p[0]]) & set(queries[p[1]])) < params.max_query_overlap
              and cosine_table[p] < params.max_text_cosine):
            out[p] = (0, 0, co_d[p], len(set(queries[p[0]]) & set(queries[p[1]])))
    return out


@st.composite
def _campaigns(draw):
    n = draw(st.integers(2, 9))
    sticker = st.integers(0, n - 1)
    displayed, similar = [], []
    for _ in range(draw(st.integers(0, 12))):
        shown = draw(st.lists(sticker, min_size=1, max_size=6, unique=True))
        displayed.append(shown)
        similar.append(draw(st.lists(st.sampled_from(shown), unique=True)))
    if draw(st.booleans()):  # a similar set not shown together: the rules must not assume it
        similar.append(draw(st.lists(sticker, min_size=2, max_size=3, unique=True)))
    queries = [draw(st.lists(st.integers(0, 6), unique=True, max_size=5)) for _ in range(n)]
    cos = {p: draw(st.sampled_from([0.1, 0.69, 0.7, 0.9])) for p in combinations(range(n), 2)}
    params = RuleParams(min_positive=draw(st.integers(1, 3)), min_displayed=draw(st.integers(1, 3)),
                        max_query_overlap=draw(st.integers(1, 4)),
                        max_text_cosine=draw(st.sampled_from([0.5, 0.7])))
    return n, displayed, similar, queries, cos, params


@settings(max_examples=300, deadline=None)
@given(_campaigns(), st.integers(1, 3))
def test_rules_match_reference(campaign, n_shards):
    n, displayed, similar, queries, cos, params = campaign
    # when: the vectorised rules, sharded, merged
    parts = [_run(displayed, similar, queries, n, cosine=_cosine_table(cos), params=params,
                  shard=s, n_shards=n_shards) for s in range(n_shards)]
    result = labelled_pairs_concat(parts)
    got = {(int(a), int(b)): (int(y), int(s), int(d), int(q)) for a, b, y, s, d, q in zip(
        result.a, result.b, result.label, result.co_selected, result.co_displayed,
        result.query_overlap, strict=True)}
    # then
    assert got == _reference(displayed, similar, queries, cos, params)
    assert list(zip(result.a, result.b, strict=True)) == sorted(zip(result.a, result.b,
                                                                    strict=True))
    assert result.counts["positive"] + result.counts["negative"] == len(result)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 12), unique=True, max_size=8), min_size=2, max_size=8),
       st.data())
def test_query_overlap_padded_and_sorted_paths_agree_with_sets(queries, data):
    from pairbuilder import rules

    n = len(queries)
    pairs = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                               max_size=20))
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    b = np.array([p[1] for p in pairs], dtype=np.int64)
    expected = [len(set(queries[x]) & set(queries[y])) for x, y in pairs]
    saved = rules.PADDED_MAX_QUERIES
    try:
        rules.PADDED_MAX_QUERIES = 3  # stickers with more queries take the sort-based path
        got = query_overlap(a, b, SetCollection.from_lists(queries))
    finally:
        rules.PADDED_MAX_QUERIES = saved
    assert got.tolist() == expected
    assert query_overlap(a, b, SetCollection.from_lists(queries)).tolist() == expected
