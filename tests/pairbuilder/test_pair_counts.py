"""Pairs per build and label as the database keeps them (migration pairbuilder 0003): after
any mix of writes they equal a direct count of the pair rows."""

from __future__ import annotations

import random

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count

from annotation.models import Campaign, Sticker
from pairbuilder.models import Pair, PairBuild
from pairbuilder.selectors import pair_counts
from pairbuilder.services.pair_counts import pair_counts_check
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


def test_the_pair_counts_command_finds_corrupted_rows_and_rebuilds():
    # given two campaigns, each with a build of pairs
    rng = random.Random(3)
    first = campaign_build(name="p1", anchors=4, candidates=8, iterations=(1,))
    second = Campaign.objects.create(name="p2")
    builds = [PairBuild.objects.create(campaign=c, params={}, status="done")
              for c in (first.campaign, second)]
    _pairs(builds[0], first.stickers, rng, 30)
    _pairs(builds[1], first.stickers, rng, 20)
    call_command("pair_counts", "--check")
    # when counts are corrupted by hand (what no trigger writes): one figure off, one row
    # missing, one row for a build that does not exist
    positives = Pair.objects.filter(build=builds[0], label=1).count()
    negatives = Pair.objects.filter(build=builds[1], label=0).count()
    assert positives and negatives
    with connection.cursor() as cur:
        cur.execute("UPDATE pairbuilder_pair_counts SET pairs = pairs + 5 "
                    "WHERE build_id = %s AND label = 1", [builds[0].pk])
        cur.execute("DELETE FROM pairbuilder_pair_counts WHERE build_id = %s AND label = 0",
                    [builds[1].pk])
        cur.execute("INSERT INTO pairbuilder_pair_counts VALUES (%s, 1, 7)",
                    [builds[1].pk + 1000])
    # then --check fails naming each figure, and a campaign's check sees its own builds only
    with pytest.raises(CommandError, match="differ from the rows"):
        call_command("pair_counts")
    found = {(m.campaign, m.subject, m.figure, m.stored, m.direct)
             for m in pair_counts_check()}
    assert found == {
        ("p1", f"build {builds[0].pk}", "positive pairs", str(positives + 5), str(positives)),
        ("p2", f"build {builds[1].pk}", "negative pairs", "0", str(negatives)),
        ("(build gone)", f"build {builds[1].pk + 1000}", "positive pairs", "7", "0")}
    assert {m.subject for m in pair_counts_check(campaign=first.campaign)} == {
        f"build {builds[0].pk}"}
    # and a campaign's rebuild repairs that campaign; the full rebuild repairs the rest
    call_command("pair_counts", "--rebuild", "p1")
    call_command("pair_counts", "p1")
    assert len(pair_counts_check()) == 2
    call_command("pair_counts", "--rebuild")
    assert pair_counts_check() == []
    assert _kept([b.pk for b in builds]) == _direct([b.pk for b in builds])
    with pytest.raises(CommandError, match="no campaign named"):
        call_command("pair_counts", "nope")
