""""Latest snapshot" means one thing: the campaign's newest exported snapshot, for the page's
Train button and for the training API alike."""

from __future__ import annotations

import pytest

from annotation.models import Campaign
from encoder.models import EncoderVersion
from pairbuilder.models import PairBuild, Snapshot

pytestmark = pytest.mark.django_db


def _snapshot(campaign: Campaign, number: int, tmp_path) -> Snapshot:
    build = PairBuild.objects.create(campaign=campaign, params={}, status="done")
    folder = tmp_path / str(number)
    folder.mkdir()
    return Snapshot.objects.create(number=number, campaign=campaign, build=build, params={},
                                   status="done", path=str(folder))


def test_page_and_api_train_on_the_campaigns_own_latest_snapshot(admin_client, tmp_path):
    # given: campaign A's snapshot 1, then campaign B's newer snapshot 2
    a, b = Campaign.objects.create(name="A"), Campaign.objects.create(name="B")
    _snapshot(a, 1, tmp_path)
    _snapshot(b, 2, tmp_path)
    # when: "latest" for A is asked of the page and of the API
    page = admin_client.get("/campaigns/A/").content.decode()
    admin_client.post("/campaigns/A/models/train/")
    api = admin_client.post("/api/encoders/train/", {"snapshot": "latest", "campaign": "A"},
                            content_type="application/json")
    # then: both use A's snapshot 1, never B's newer one
    assert "Train GSE on latest snapshot (#1)" in page
    assert api.status_code == 202, api.content
    assert sorted(EncoderVersion.objects.values_list("snapshot__number", flat=True)) == [1, 1]


def test_latest_without_a_campaign_is_refused_once_it_is_ambiguous(admin_client, tmp_path):
    _snapshot(Campaign.objects.create(name="A"), 1, tmp_path)
    _snapshot(Campaign.objects.create(name="B"), 2, tmp_path)
    r = admin_client.post("/api/encoders/train/", {"snapshot": "latest"},
                          content_type="application/json")
    assert r.status_code == 400 and "campaign" in r.content.decode()
    assert not EncoderVersion.objects.exists()
