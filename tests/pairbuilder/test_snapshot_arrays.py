"""Snapshot files from the build's pairs read as arrays: the same bytes as the row-by-row
export (pairs ordered by (sticker_id, sticker_id_2), reviews applied, split by sticker), in
CSV batches of any size."""

from __future__ import annotations

import csv
import io
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from annotation.models import Campaign
from pairbuilder import services
from pairbuilder.models import Pair, PairBuild, PairReview
from pairbuilder.services import snapshots
from pairbuilder.split import SPLITS, split_by_sticker
from tests.pairbuilder.helpers import stickers_make, user_make

pytestmark = pytest.mark.django_db

NAMES = ["a.png", "B.png", "a-1.png", "Z_2.gif", "\u00e4.png", "c,d.png", "a.webm", "q.png",
         "r.png", "s.png", "t.png", "u.png"]


def _reference(build: PairBuild, include_unreviewed: bool, seed: int) -> dict[str, bytes]:
    """The split CSVs as the row-by-row export wrote them."""
    decisions = {(a, b, y): d for a, b, y, d in PairReview.objects.values_list(
        "sticker_a_id", "sticker_b_id", "label", "decision")}
    pairs = []
    for a, b, name_a, name_b, y in (Pair.objects.filter(build=build)
                                    .order_by("sticker_a__sticker_id", "sticker_b__sticker_id")
                                    .values_list("sticker_a_id", "sticker_b_id",
                                                 "sticker_a__sticker_id",
                                                 "sticker_b__sticker_id", "label")):
        decision = decisions.get((a, b, y))
        if decision == "accept" or (decision is None and include_unreviewed):
            pairs.append((name_a, name_b, y))
    names = sorted({n for p in pairs for n in p[:2]})
    index = {n: i for i, n in enumerate(names)}
    split = split_by_sticker(np.array([index[p[0]] for p in pairs], dtype=np.int64),
                             np.array([index[p[1]] for p in pairs], dtype=np.int64),
                             len(names), (0.6, 0.2, 0.2), seed)
    out = {}
    for k, name in enumerate(SPLITS):
        body = io.StringIO()
        writer = csv.writer(body, lineterminator="\n")
        writer.writerow(["sticker_id", "sticker_id_2", "label"])
        writer.writerows(p for p, s in zip(pairs, split.pair_split.tolist(), strict=True)
                         if s == k)
        out[snapshots.SPLIT_FILES[name]] = body.getvalue().encode()
    return out


@pytest.mark.parametrize("include_unreviewed", [True, False])
@pytest.mark.parametrize("batch", [1, 4, 100_000])
def test_split_files_equal_the_row_by_row_export(monkeypatch, settings, tmp_path,
                                                 include_unreviewed, batch):
    # given every pair of 12 stickers (names that sort differently by case and punctuation),
    # labels by a hash, two accepted and one rejected, and CSV batches of ``batch`` rows
    settings.SNAPSHOT_DIR = str(tmp_path)
    monkeypatch.setattr(snapshots, "CSV_BATCH", batch)
    stickers = stickers_make(NAMES)
    build = PairBuild.objects.create(campaign=Campaign.objects.create(name="c"), params={},
                                     status=PairBuild.Status.DONE)
    ordered = sorted(stickers.values(), key=lambda s: s.sticker_id)
    Pair.objects.bulk_create(
        Pair(build=build, sticker_a=x, sticker_b=y, label=(x.pk * 7 + y.pk) % 3 == 0,
             co_selected=0, co_displayed=2, query_overlap=0)
        for x, y in combinations(ordered, 2))
    curator = user_make("curator", staff=True)
    for pair, decision in zip(Pair.objects.order_by("id")[:3], ["accept", "accept", "reject"],
                              strict=True):
        PairReview.objects.create(campaign=build.campaign, sticker_a_id=pair.sticker_a_id,
                                  sticker_b_id=pair.sticker_b_id, label=pair.label,
                                  decision=decision, reviewer=curator)
    # when
    snapshot = services.snapshot_create(campaign=build.campaign, build=build,
                                        include_unreviewed=include_unreviewed,
                                        ratios=(0.6, 0.2, 0.2), seed=5)
    # then each split file is byte for byte the row-by-row export's
    for name, data in _reference(build, include_unreviewed, seed=5).items():
        assert (Path(snapshot.path) / name).read_bytes() == data
    total = snapshot.manifest["split"]["selected_pairs"]
    assert total == (66 - 1 if include_unreviewed else 2)
