"""Pair builds, review, export, snapshots and import through the services, on a real database
(PostgreSQL, tasks inline) with the offline text2vec model."""

from __future__ import annotations

import csv
import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from annotation.models import Campaign
from pairbuilder import services
from pairbuilder.errors import PairBuildError
from pairbuilder.models import Pair, PairBuild, Snapshot, TextEmbedding
from pairbuilder.text_embedding import text_embeddings
from tests.pairbuilder.helpers import (
    annotate,
    queries_add,
    skip,
    stickers_make,
    task_make,
    user_make,
)

pytestmark = pytest.mark.django_db

QUERIES = {
    "a.png": "thumbs up, good job, nice",
    "b.gif": "thumbs up, good job, great",
    "c.webm": "thumbs up, well done",
    "d.png": "crying, sad, 哭",
    "e.png": "pizza, food, hungry",
    "f.png": "sleepy, tired",
}


@pytest.fixture
def campaign(django_capture_on_commit_callbacks):
    """a, b, c judged similar in two tasks; d and e shown twice and never selected."""
    s = stickers_make(QUERIES)
    for name, field in QUERIES.items():
        queries_add(s[name], field)
    c = Campaign.objects.create(name="c1")
    u1, u2 = user_make("u1"), user_make("u2")
    t1 = task_make(c, s["a.png"], [s["b.gif"], s["c.webm"], s["d.png"], s["e.png"]], 1)
    t2 = task_make(c, s["b.gif"], [s["a.png"], s["c.webm"], s["d.png"], s["e.png"]], 2)
    t3 = task_make(c, s["f.png"], [s["d.png"], s["e.png"]], 1)
    annotate(t1, u1, [s["b.gif"], s["c.webm"]])
    annotate(t2, u2, [s["a.png"], s["c.webm"]])
    skip(t3, u1)  # a skip counts for nothing: d, e stay co-displayed exactly twice
    return c


def _build(campaign, capture, **params) -> PairBuild:
    with capture(execute=True):
        build = services.pair_build_start(campaign=campaign, params=params)
    build.refresh_from_db()
    return build


def _labels(build: PairBuild) -> dict[tuple[str, str], int]:
    return {(a, b): y for a, b, y in Pair.objects.filter(build=build).values_list(
        "sticker_a__sticker_id", "sticker_b__sticker_id", "label")}


def test_build_labels_pairs_with_evidence(campaign, django_capture_on_commit_callbacks):
    # when
    build = _build(campaign, django_capture_on_commit_callbacks)
    # then
    assert build.status == "done" and build.progress == 1.0 and build.annotation_count == 2
    labels = _labels(build)
    assert {p for p, y in labels.items() if y == 1} == {
        ("a.png", "b.gif"), ("a.png", "c.webm"), ("b.gif", "c.webm")}
    assert labels[("d.png", "e.png")] == 0
    pair = Pair.objects.get(build=build, sticker_a__sticker_id="a.png",
                            sticker_b__sticker_id="b.gif")
    assert (pair.co_selected, pair.co_displayed, pair.query_overlap) == (2, 2, 2)
    assert build.counts["positive"] == 3 and build.params["min_positive"] == 2
    assert build.counts["negative"] == sum(1 for y in labels.values() if y == 0)


def test_build_is_idempotent_and_rerun_safe(campaign, django_capture_on_commit_callbacks):
    first = _build(campaign, django_capture_on_commit_callbacks)
    second = _build(campaign, django_capture_on_commit_callbacks)
    assert _labels(first) == _labels(second)
    # given: a build left "running" with stray rows (an interrupted attempt)
    PairBuild.objects.filter(pk=second.pk).update(status="running")
    Pair.objects.filter(build=second).delete()
    # when: rerun
    services.pair_build_run(build_id=second.pk)
    # then
    assert _labels(second) == _labels(first)


def test_thresholds_are_recorded_and_validated(campaign, django_capture_on_commit_callbacks):
    build = _build(campaign, django_capture_on_commit_callbacks, min_positive=3)
    assert build.params["min_positive"] == 3 and build.counts["positive"] == 0
    with pytest.raises(PairBuildError, match="min_displayed"):
        services.pair_build_start(campaign=campaign, params={"min_displayed": 0})


def test_review_kept_across_builds_while_label_holds(campaign,
                                                     django_capture_on_commit_callbacks, tmp_path):
    # given: accept a positive, reject the negative
    build = _build(campaign, django_capture_on_commit_callbacks)
    curator = user_make("curator", staff=True)
    pos = Pair.objects.get(build=build, sticker_a__sticker_id="a.png",
                           sticker_b__sticker_id="b.gif")
    neg = Pair.objects.get(build=build, sticker_a__sticker_id="d.png",
                           sticker_b__sticker_id="e.png")
    services.pair_review_decide(campaign=campaign, pair=pos, decision="accept", reviewer=curator)
    services.pair_review_decide(campaign=campaign, pair=neg, decision="reject", reviewer=curator)
    # when: new annotations make d, e a positive, and the pairs are built again
    d, e = neg.sticker_a, neg.sticker_b
    u3 = user_make("u3")
    annotate(task_make(campaign, d, [e], 1), u3, [e])
    annotate(task_make(campaign, e, [d], 2), u3, [d])
    build2 = _build(campaign, django_capture_on_commit_callbacks)
    out = tmp_path / "pairs.csv"
    services.pairs_export_csv(campaign=campaign, out_path=out)
    rows = {(r["sticker_id"], r["sticker_id_2"]): r for r in csv.DictReader(out.open())}
    # then: the unchanged label keeps its decision, the flipped one waits for a new one
    assert _labels(build2)[("d.png", "e.png")] == 1
    assert rows[("a.png", "b.gif")]["review"] == "accept"
    assert rows[("d.png", "e.png")]["review"] == ""


def test_export_csv_format(campaign, django_capture_on_commit_callbacks, tmp_path):
    _build(campaign, django_capture_on_commit_callbacks)
    out = tmp_path / "pairs.csv"
    n = services.pairs_export_csv(campaign=campaign, out_path=out)
    lines = out.read_text().splitlines()
    assert lines[0] == ("sticker_id,sticker_id_2,label,co_selected,co_displayed,query_overlap,"
                        "text_cosine,review")
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) == n and all(r[0] < r[1] for r in rows)
    assert rows == sorted(rows)


def test_text_embedding_cached_and_recomputed_when_queries_change(campaign):
    from annotation.models import Sticker
    sticker = Sticker.objects.get(sticker_id="d.png")
    first = text_embeddings(sticker_pks=[sticker.pk])[sticker.pk]
    row = TextEmbedding.objects.get(sticker=sticker)
    assert np.isclose(np.linalg.norm(first), 1.0, atol=1e-5)
    again = text_embeddings(sticker_pks=[sticker.pk])[sticker.pk]
    assert np.array_equal(first, again)
    # when: a query is added (the digest changes)
    queries_add(sticker, "在哭", language="zh")
    changed = text_embeddings(sticker_pks=[sticker.pk])[sticker.pk]
    assert TextEmbedding.objects.get(sticker=sticker).queries_digest != row.queries_digest
    assert not np.allclose(first, changed)


def _snapshot_bytes(snapshot: Snapshot) -> dict[str, bytes]:
    root = Path(snapshot.path)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file()}


def test_snapshot_split_by_sticker_and_byte_identical(campaign,
                                                     django_capture_on_commit_callbacks):
    # given
    _build(campaign, django_capture_on_commit_callbacks)
    # when: the same build exported twice
    one = services.snapshot_create(campaign=campaign, include_unreviewed=True, seed=3)
    two = services.snapshot_create(campaign=campaign, include_unreviewed=True, seed=3)
    # then
    assert (one.number, two.number) == (one.number, one.number + 1)
    files_one, files_two = _snapshot_bytes(one), _snapshot_bytes(two)
    assert files_one == files_two
    assert Path(one.archive).read_bytes() == Path(two.archive).read_bytes()
    manifest = json.loads(files_one["manifest.json"])
    for name, digest in manifest["files_sha256"].items():
        assert hashlib.sha256(files_one[name]).hexdigest() == digest
    stickers_per_split = []
    for split in ("train", "val", "test"):
        text = files_one[f"pairs_{split}.csv"].decode()
        assert text.splitlines()[0] == "sticker_id,sticker_id_2,label"
        rows = list(csv.reader(text.splitlines()[1:]))
        assert manifest["splits"][split]["pairs"] == len(rows)
        stickers_per_split.append({n for r in rows for n in r[:2]})
    for i in range(3):
        for j in range(i + 1, 3):
            assert not stickers_per_split[i] & stickers_per_split[j]
    with zipfile.ZipFile(one.archive) as zf:
        assert sorted(zf.namelist()) == zf.namelist()
        assert "manifest.json" in zf.namelist()


def test_snapshot_takes_accepted_pairs_only_by_default(campaign,
                                                      django_capture_on_commit_callbacks):
    build = _build(campaign, django_capture_on_commit_callbacks)
    curator = user_make("curator", staff=True)
    pair = Pair.objects.filter(build=build, label=1).order_by("id").first()
    services.pair_review_decide(campaign=campaign, pair=pair, decision="accept",
                                reviewer=curator)
    snapshot = services.snapshot_create(campaign=campaign)
    assert snapshot.manifest["split"]["selected_pairs"] == 1


def test_import_triple_s(tmp_path):
    stickers_make(["x.png", "y.gif", "z.webm"])
    path = tmp_path / "release_train.csv"
    path.write_text("sticker_id,sticker_id_2,label\ny.gif,x.png,1\nx.png,z.webm,0\n"
                    "x.png,missing.png,1\n")
    report = services.pairs_import(csv_path=path)
    assert report.imported == 2 and len(report.unknown) == 1
    assert _labels(report.build) == {("x.png", "y.gif"): 1, ("x.png", "z.webm"): 0}
    assert report.build.params["imported"] is True
    with pytest.raises(PairBuildError, match="header"):
        bad = tmp_path / "bad.csv"
        bad.write_text("a,b\n")
        services.pairs_import(csv_path=bad)


def test_build_of_a_campaign_without_annotations(django_capture_on_commit_callbacks):
    empty = Campaign.objects.create(name="empty")
    build = _build(empty, django_capture_on_commit_callbacks)
    assert build.status == "done" and build.counts["positive"] == 0
    assert not Pair.objects.filter(build=build).exists()


def test_snapshot_carries_the_sticker_files(tmp_path):
    from tests.annotation.campaign_factory import gif_bytes, sticker_create, webm_bytes

    # given: two real animated stickers imported as a pair
    gif, webm = gif_bytes(), webm_bytes()
    sticker_create("x.gif", gif, "gif", True)
    sticker_create("y.webm", webm, "webm", True)
    path = tmp_path / "two.csv"
    path.write_text("sticker_id,sticker_id_2,label\nx.gif,y.webm,1\n")
    report = services.pairs_import(csv_path=path, campaign_name="two")
    # when
    snapshot = services.snapshot_create(campaign=report.build.campaign, include_unreviewed=True,
                                        ratios=(1, 0, 0))
    # then: the original bytes are in the archive, with their checksums in the manifest
    with zipfile.ZipFile(snapshot.archive) as zf:
        assert zf.read("stickers/x.gif") == gif and zf.read("stickers/y.webm") == webm
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["files_sha256"]["stickers/y.webm"] == hashlib.sha256(webm).hexdigest()
    assert manifest["stickers_without_file"] == []
    assert manifest["splits"]["train"]["pairs"] == 1
