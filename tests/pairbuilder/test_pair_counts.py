"""Pairs per build and label as the database keeps them (migration pairbuilder 0003): after
any mix of writes they equal a direct count of the pair rows."""

from __future__ import annotations

import random

import pytest
from django.db import connection
from django.db.models import Count

from annotation.models import Sticker
from pairbuilder.models import Pair, PairBuild
from pairbuilder.selectors import pair_counts
from tests.annotation.campaign_factory import campaign_build

pytestmark = pytest.mark.django_db


def _direct(build_ids: list[int]) -> dict[int, dict[int, int]]:
    out: dict[int, dict[int, int]] = {b: {} for b in build_ids}
    for build_id, label, n in (Pair.objects.filter(build_id__in=build_ids)
                               .values_list("build", "label").order_by()
                               .annotate(n=Count("pk"))):
        out[build_id][label] = n
    return out


def _kept(build_ids: list[int]) -> dict[int, dict[int, int]]:
    # rows at zero stay in the table: compare the non-zero figures
    return {b: {y: n for y, n in labels.items() if n} for b, labels in
            pair_counts(build_ids).items()}


def _pairs(build: PairBuild, stickers: list[Sticker], rng: random.Random, n: int) -> None:
    chosen = rng.sample([(a, b) for i, a in enumerate(stickers) for b in stickers[i + 1:]], n)
    Pair.objects.bulk_create(
        Pair(build=build, sticker_a=a, sticker_b=b, label=rng.randint(0, 1), co_selected=2,
             co_displayed=2, query_overlap=0) for a, b in chosen)


def test_counts_follow_inserts_updates_and_deletes():
    # given two builds of one campaign, filled with pairs
    rng = random.Random(14)
    fixture = campaign_build(anchors=4, candidates=8, iterations=(1,))
    stickers = fixture.stickers
    builds = [PairBuild.objects.create(campaign=fixture.campaign, params={}, status="done")
              for _ in range(2)]
    ids = [b.pk for b in builds]
    for build in builds:
        _pairs(build, stickers, rng, 40)
    assert _kept(ids) == _direct(ids) and sum(_direct(ids)[ids[0]].values()) == 40
    # when labels flip, rows are deleted one by one and in bulk, and a sticker goes (cascade)
    Pair.objects.filter(build=builds[0], label=1).update(label=0)
    for pair in Pair.objects.filter(build=builds[1])[:5]:
        pair.delete()
    Pair.objects.filter(build=builds[1], label=0).delete()
    stickers[0].delete()
    # then the kept counts equal a direct count
    assert _kept(ids) == _direct(ids)
    assert _direct(ids)[ids[0]].get(1) is None  # the flip did happen


def test_a_deleted_build_takes_its_counts_and_truncate_empties_them():
    rng = random.Random(15)
    fixture = campaign_build(anchors=3, candidates=6, iterations=(1,))
    builds = [PairBuild.objects.create(campaign=fixture.campaign, params={}, status="done")
              for _ in range(2)]
    for build in builds:
        _pairs(build, fixture.stickers, rng, 20)
    # when a build is deleted (its pairs with it)
    gone = builds[0].pk
    builds[0].delete()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pairbuilder_pair_counts WHERE build_id = %s", [gone])
        assert cur.fetchone()[0] == 0
    assert _kept([builds[1].pk]) == _direct([builds[1].pk])
    # when the pair table is truncated
    with connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the inserts' deferred key checks first
        cur.execute("TRUNCATE pairbuilder_pair")
        cur.execute("SELECT count(*) FROM pairbuilder_pair_counts")
        assert cur.fetchone()[0] == 0
