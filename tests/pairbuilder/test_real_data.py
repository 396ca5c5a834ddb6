"""The pair builder on the real StickerQueries queries and the Triple-S train pairs.

Annotations are made so that every pair of release_train.csv is co-displayed twice and never
selected; the exported query overlaps must equal a direct count on the raw CSVs, done here
with this test's own parsing.
"""

from __future__ import annotations

import csv
import unicodedata
from collections import defaultdict
from pathlib import Path

import pytest

from annotation.models import Campaign
from annotation.services import queries_import
from pairbuilder import services
from tests.pairbuilder.helpers import annotate, stickers_make, task_make, user_make

pytestmark = pytest.mark.django_db


def _direct_queries(paths: list[Path]) -> dict[str, set[str]]:
    """Q_i straight from the CSVs: split on ASCII or full-width commas, NFKC, trim, case-fold."""
    out: dict[str, set[str]] = defaultdict(set)
    for path in paths:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            for row in csv.DictReader(fh):
                field = row["labeled_queries"].replace("，", ",")
                for q in field.split(","):
                    q = " ".join(unicodedata.normalize("NFKC", q).split()).casefold()
                    if q:
                        out[row["sticker_id"].strip()].add(q)
    return out


def test_exported_query_overlaps_match_the_csvs(shared_data, tmp_path,
                                                django_capture_on_commit_callbacks):
    # given: stickers of the Triple-S train pairs, their real en + zh queries
    with (shared_data / "triple-s" / "release_train.csv").open() as fh:
        release = {tuple(sorted((r["sticker_id"], r["sticker_id_2"]))) for r in csv.DictReader(fh)}
    names = sorted({n for p in release for n in p})
    stickers = stickers_make(names)
    query_files = [shared_data / "stickerqueries" / f"sticker_queries_{lang}_release.csv"
                   for lang in ("en", "zh")]
    for path, lang in zip(query_files, ("en", "zh"), strict=True):
        queries_import(csv_path=path, language=lang)
    # and: every release pair co-displayed twice (iterations 1 and 2 of its smaller sticker)
    partners: dict[str, list[str]] = defaultdict(list)
    for x, y in sorted(release):
        partners[x].append(y)
    campaign = Campaign.objects.create(name="triple-s-real")
    annotator = user_make("annotator")
    for anchor, others in partners.items():
        for iteration in (1, 2):
            task = task_make(campaign, stickers[anchor], [stickers[o] for o in others], iteration)
            annotate(task, annotator, [])
    # when: built with the overlap and cosine gates open, so every pair keeps its evidence
    with django_capture_on_commit_callbacks(execute=True):
        build = services.pair_build_start(campaign=campaign, params={
            "max_query_overlap": 10_000, "max_text_cosine": 2.0})
    out = tmp_path / "pairs.csv"
    services.pairs_export_csv(campaign=campaign, out_path=out)
    # then
    exported = {(r["sticker_id"], r["sticker_id_2"]): r for r in csv.DictReader(out.open())}
    direct = _direct_queries(query_files)
    # 47 Triple-S stickers have no StickerQueries row: with no query text the text cosine is
    # undefined, so their pairs cannot be shown dissimilar and are never negatives.
    no_text = {p for p in release if not direct[p[0]] or not direct[p[1]]}
    assert no_text and not no_text & exported.keys()
    assert release - no_text <= exported.keys()
    for x, y in release - no_text:
        row = exported[(x, y)]
        assert int(row["query_overlap"]) == len(direct[x] & direct[y]), (x, y)
        assert row["label"] == "0" and int(row["co_displayed"]) >= 2
        assert -1.0 <= float(row["text_cosine"]) <= 1.0001
    build.refresh_from_db()
    assert build.counts["rejected_query_overlap"] == 0

    # when: the default thresholds
    with django_capture_on_commit_callbacks(execute=True):
        services.pair_build_start(campaign=campaign, params={})
    services.pairs_export_csv(campaign=campaign, out_path=out)
    default = {(r["sticker_id"], r["sticker_id_2"]): r for r in csv.DictReader(out.open())}
    # then: exactly the release pairs with < 3 shared queries and cosine < 0.7 stay negative
    expected = {p for p in release - no_text if len(direct[p[0]] & direct[p[1]]) < 3
                and float(exported[p]["text_cosine"]) < 0.7}
    assert {p for p in default if p in release} == expected


def test_imported_triple_s_snapshot_split_by_sticker(shared_data):
    # given: the published train pairs imported as a build
    path = shared_data / "triple-s" / "release_train.csv"
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    stickers_make({n for r in rows for n in (r["sticker_id"], r["sticker_id_2"])})
    report = services.pairs_import(csv_path=path)
    assert report.imported == 765 and report.build.counts["positive"] == 394
    # when
    snapshot = services.snapshot_create(campaign=report.build.campaign, include_unreviewed=True,
                                        seed=0)
    # then: no sticker in two splits, every pair kept or counted as dropped
    manifest = snapshot.manifest
    root = Path(snapshot.path)
    seen: dict[str, str] = {}
    for split in ("train", "val", "test"):
        with (root / f"pairs_{split}.csv").open() as fh:
            for r in csv.DictReader(fh):
                for n in (r["sticker_id"], r["sticker_id_2"]):
                    assert seen.setdefault(n, split) == split
    assert manifest["total"]["pairs"] + manifest["split"]["dropped_cross_split_pairs"] == 765
    assert manifest["splits"]["train"]["pairs"] > manifest["splits"]["test"]["pairs"] > 0
    print("triple-s split:", manifest["splits"], "dropped",
          manifest["split"]["dropped_cross_split_pairs"])
