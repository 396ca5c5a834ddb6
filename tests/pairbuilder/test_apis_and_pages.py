"""The admin-only API, the review page, the campaign panel and the management commands."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from annotation.models import Campaign
from pairbuilder.models import Pair, PairBuild, PairReview, Snapshot
from tests.pairbuilder.helpers import annotate, queries_add, stickers_make, task_make, user_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    s = stickers_make(["a.png", "b.gif", "c.webm", "d.png"])
    for name, q in {"a.png": "yes, ok", "b.gif": "yes, sure", "c.webm": "no way",
                    "d.png": "pizza"}.items():
        queries_add(s[name], q)
    c = Campaign.objects.create(name="api")
    u = user_make("annotator")
    t1 = task_make(c, s["a.png"], [s["b.gif"], s["c.webm"], s["d.png"]], 1)
    t2 = task_make(c, s["b.gif"], [s["a.png"], s["c.webm"], s["d.png"]], 2)
    annotate(t1, u, [s["b.gif"]])
    annotate(t2, u, [s["a.png"]])
    return c


@pytest.fixture
def admin_client():
    client = APIClient()
    client.force_authenticate(user_make("curator", staff=True))
    return client


def test_api_is_admin_only(campaign):
    client = APIClient()
    client.force_authenticate(user_make("someone"))
    assert client.post(f"/api/campaigns/{campaign.name}/pair-builds/", {}).status_code == 403
    assert APIClient().get(f"/api/campaigns/{campaign.name}/snapshots/").status_code in (401, 403)


def test_build_review_snapshot_download_through_the_api(
        campaign, admin_client, django_capture_on_commit_callbacks):
    # when: a build is started
    with django_capture_on_commit_callbacks(execute=True):
        resp = admin_client.post(f"/api/campaigns/{campaign.name}/pair-builds/",
                                 {"min_positive": 2}, format="json")
    assert resp.status_code == 202
    build = admin_client.get(f"/api/pair-builds/{resp.data['id']}/").data
    assert build["status"] == "done" and build["counts"]["positive"] == 1
    # and: the review queue lists its pairs; a decision is recorded with who and when
    page = admin_client.get(f"/api/pair-builds/{build['id']}/pairs/").data
    pair = next(p for p in page["pairs"] if p["label"] == 1)
    assert pair["a"]["sticker_id"] == "a.png" and pair["b"]["media_type"] == "gif"
    resp = admin_client.post(f"/api/pairs/{pair['id']}/review/", {"decision": "accept"},
                             format="json")
    assert resp.status_code == 200 and resp.data["reviewer"] == "curator"
    review = PairReview.objects.get()
    assert review.reviewer.username == "curator" and review.decided_at is not None
    unreviewed = admin_client.get(f"/api/pair-builds/{build['id']}/pairs/?unreviewed=1").data
    assert pair["id"] not in [p["id"] for p in unreviewed["pairs"]]
    assert admin_client.post(f"/api/pairs/{pair['id']}/review/", {"decision": "maybe"},
                             format="json").status_code == 400
    # when: a snapshot is exported and downloaded
    with django_capture_on_commit_callbacks(execute=True):
        resp = admin_client.post(f"/api/campaigns/{campaign.name}/snapshots/",
                                 {"include_unreviewed": False}, format="json")
    assert resp.status_code == 202
    listed = admin_client.get(f"/api/campaigns/{campaign.name}/snapshots/").data["snapshots"]
    assert listed[0]["status"] == "done"
    # and: the list shows the manifest's split figures (from the summary kept beside it)
    manifest = Snapshot.objects.get(number=listed[0]["number"]).manifest
    assert listed[0]["splits"] == manifest["splits"] and listed[0]["splits"]["train"]
    assert listed[0]["dropped"] == manifest["split"]["dropped_cross_split_pairs"]
    download = admin_client.get(f"/api/snapshots/{listed[0]['number']}/download/")
    assert download.status_code == 200
    with zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))) as zf:
        rows = zf.read("pairs_train.csv").decode() + zf.read("pairs_val.csv").decode() + \
            zf.read("pairs_test.csv").decode()
    assert "a.png,b.gif,1" in rows


def test_review_page_and_campaign_panel(campaign, client, django_capture_on_commit_callbacks):
    from pairbuilder import services

    with django_capture_on_commit_callbacks(execute=True):
        build = services.pair_build_start(campaign=campaign, params={})
    client.force_login(user_make("annotator2"))
    assert client.get(f"/pair-builds/{build.id}/review/").status_code == 302  # not staff
    client.force_login(user_make("curator", staff=True))
    page = client.get(f"/pair-builds/{build.id}/review/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Accept (A)" in body and "video" in body and "playsinline" in body
    panel = client.get(f"/campaigns/{campaign.name}/").content.decode()
    assert "Build pairs" in panel and "Export snapshot" in panel
    assert f"/pair-builds/{build.id}/review/" in panel
    # nothing reviewed yet: the page says a reviewed-only snapshot would be empty
    assert 'id="snapshot-unreviewed-hint"' in panel
    services.pair_review_decide(campaign=campaign, pair=build.pairs.first(), decision="accept",
                                reviewer=user_make("curator2", staff=True))
    panel = client.get(f"/campaigns/{campaign.name}/").content.decode()
    assert 'id="snapshot-unreviewed-hint"' not in panel


def test_management_commands(campaign, tmp_path, capsys):
    call_command("build_pairs", "--campaign", campaign.name, "--min-positive", "2", "--inline")
    build = PairBuild.objects.get()
    assert build.status == "done"
    out = tmp_path / "pairs.csv"
    call_command("export_pairs", "--campaign", campaign.name, str(out))
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == Pair.objects.filter(build=build).count()
    call_command("export_snapshot", "--campaign", campaign.name, "--out", str(tmp_path / "snap"),
                 "--include", "unreviewed", "--seed", "1", "--ratios", "0.5,0.25,0.25")
    assert (tmp_path / "snap" / "manifest.json").is_file()
    assert Snapshot.objects.get().params["ratios"] == [0.5, 0.25, 0.25]
    triple_s = tmp_path / "release.csv"
    triple_s.write_text("sticker_id,sticker_id_2,label\na.png,c.webm,0\n")
    call_command("import_pairs", str(triple_s))
    assert "1 pairs imported" in capsys.readouterr().out
    assert Path(Snapshot.objects.get().archive).is_file()
