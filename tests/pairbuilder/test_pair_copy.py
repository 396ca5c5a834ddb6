"""The pair build's binary COPY, both ways, on a real database: pairs written as NumPy records
read back as the rows the text COPY wrote, and bigint columns read into arrays in blocks."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import IntegrityError, transaction

from annotation.models import Campaign, Query
from pairbuilder import rules
from pairbuilder.models import Pair, PairBuild
from pairbuilder.services import pair_copy
from tests.pairbuilder.helpers import queries_add, stickers_make

pytestmark = pytest.mark.django_db(transaction=True)


def _result(n_pairs: int, n_stickers: int) -> rules.LabelledPairs:
    """Deterministic labelled pairs over ``n_stickers`` (a < b), every third cosine NaN."""
    a, b = np.triu_indices(n_stickers, k=1)
    a, b = a[:n_pairs].astype(np.int64), b[:n_pairs].astype(np.int64)
    k = np.arange(len(a))
    cosine = np.where(k % 3 == 0, np.nan, ((k * 7919) % 2000 - 1000) / 1000.0 + 1e-7)
    return rules.LabelledPairs(a=a, b=b, label=(k % 2).astype(np.int8), co_selected=k % 5,
                               co_displayed=k % 7 + 2, query_overlap=k % 3,
                               text_cosine=cosine.astype(np.float32).astype(np.float64))


def test_pairs_copy_writes_what_the_rows_say():
    # given 40 stickers, a build and 700 labelled pairs, written in three COPYs
    stickers = stickers_make(f"s{i:03d}.png" for i in range(40))
    pks = np.array([stickers[f"s{i:03d}.png"].pk for i in range(40)], dtype=np.int64)
    build = PairBuild.objects.create(campaign=Campaign.objects.create(name="c"), params={})
    result = _result(700, 40)
    # when
    with transaction.atomic():
        for lo in range(0, 700, 300):
            pair_copy.pairs_copy(build.pk, result, pks, slice(lo, lo + 300))
    # then every row, in order, as build_pk, the stickers' pks, label, evidence and the cosine
    # rounded to 6 places (NULL where NaN)
    got = list(Pair.objects.filter(build=build).order_by("id").values_list(
        "build_id", "sticker_a_id", "sticker_b_id", "label", "co_selected", "co_displayed",
        "query_overlap", "text_cosine"))
    want = [(build.pk, int(pks[x]), int(pks[y]), int(lab), int(s), int(d), int(q),
             None if np.isnan(c) else round(float(c), 6))
            for x, y, lab, s, d, q, c in zip(result.a, result.b, result.label,
                                             result.co_selected, result.co_displayed,
                                             result.query_overlap, result.text_cosine,
                                             strict=True)]
    assert got == want
    assert sum(c is None for *_, c in got) == 234


def test_pairs_copy_keeps_the_foreign_keys():
    # given a pair naming a sticker that does not exist
    stickers = stickers_make(["a.png", "b.png"])
    pks = np.array([stickers["a.png"].pk, stickers["b.png"].pk + 1000], dtype=np.int64)
    build = PairBuild.objects.create(campaign=Campaign.objects.create(name="c"), params={})
    # when written with the constraints checked at once / then PostgreSQL refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        with transaction.get_connection().cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        pair_copy.pairs_copy(build.pk, _result(1, 2), pks, slice(0, None))
    assert not Pair.objects.exists()


@pytest.mark.parametrize("block", [1, 100, 8 << 20])
def test_int_columns_copy_out_reads_every_row(monkeypatch, block):
    # given 30 stickers with 3 queries each, and parse blocks of ``block`` bytes
    monkeypatch.setattr(pair_copy, "COPY_OUT_BLOCK", block)
    stickers = stickers_make(f"s{i:02d}.png" for i in range(30))
    for s in stickers.values():
        queries_add(s, "one, two, three")
    queryset = Query.objects.order_by("id").values_list("id", "sticker_id")
    # when
    sql, params = queryset.query.sql_with_params()
    got = pair_copy.int_columns_copy_out(sql, list(params), 2)
    # then the same rows as the ORM's, as int64
    assert got.dtype == np.int64 and got.shape == (90, 2)
    assert got.tolist() == [list(r) for r in queryset]


def test_int_columns_copy_out_of_nothing_and_of_a_nullable_column():
    sql, params = Query.objects.values_list("id", "sticker_id").query.sql_with_params()
    assert pair_copy.int_columns_copy_out(sql, list(params), 2).shape == (0, 2)
    stickers_make(["a.png"])
    with pytest.raises(ValueError, match="bigint"):  # a NULL is not an int64
        pair_copy.int_columns_copy_out("SELECT id, NULL::bigint FROM annotation_sticker", [], 2)
