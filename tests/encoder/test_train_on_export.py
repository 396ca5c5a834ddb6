"""Every exported snapshot is trained on and evaluated without anyone asking (issue 13): a
real Celery worker writes the snapshot, then trains and evaluates a GSE on it (the tiny OpenCLIP
through the same loading code as real weights)."""

from __future__ import annotations

import time

import pytest

from annotation.models import Campaign
from encoder.models import EncoderVersion
from pairbuilder import services
from pairbuilder.models import Pair, PairBuild, Snapshot

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def train_on_export_env(monkeypatch, tiny_openclip):
    """What the worker (started after this fixture) inherits: training on, the tiny model."""
    monkeypatch.setenv("GSE_TRAIN_ON_EXPORT", "1")
    monkeypatch.setenv("GSE_MODEL", tiny_openclip["config_path"])
    monkeypatch.setenv("GSE_PRETRAINED", tiny_openclip["checkpoint"])


def _campaign(make_stickers) -> Campaign:
    """30 groups of 3 stickers: a positive and a negative in each, so every split has both."""
    stickers = make_stickers(90)
    campaign = Campaign.objects.create(name="auto-train", snapshot_include_unreviewed=True,
                                       train_config={"epochs": 1, "batch_size": 8,
                                                     "warmup_steps": 1, "device": "cpu"})
    build = PairBuild.objects.create(campaign=campaign, params={}, status="done")
    rows = []
    for g in range(30):
        a, b, c = stickers[3 * g: 3 * g + 3]
        rows += [Pair(build=build, sticker_a=a, sticker_b=b, label=1, co_selected=2,
                      co_displayed=2, query_overlap=0, text_cosine=None),
                 Pair(build=build, sticker_a=a, sticker_b=c, label=0, co_selected=0,
                      co_displayed=2, query_overlap=0, text_cosine=0.1)]
    Pair.objects.bulk_create(rows)
    return campaign


def test_an_export_queues_a_trained_and_evaluated_gse(train_on_export_env, make_stickers,
                                                        celery_worker_process):
    # given: a campaign with the setting on (the default) and a finished build
    campaign = _campaign(make_stickers)
    assert campaign.train_on_export
    # when the snapshot is exported through the workers, and nothing else is asked
    snapshot = services.snapshot_start(campaign=campaign)
    # then a GSE for that snapshot is registered, trained and evaluated
    deadline = time.time() + 300
    version = None
    while time.time() < deadline:
        version = EncoderVersion.objects.filter(snapshot_id=snapshot.id,
                                                kind=EncoderVersion.Kind.GSE).first()
        if version is not None and version.status in ("done", "failed"):
            break
        time.sleep(1)
    assert Snapshot.objects.get(pk=snapshot.id).status == Snapshot.Status.DONE
    assert version is not None, "no GSE registered for the exported snapshot"
    assert version.status == "done", version.error
    assert version.train_config["epochs"] == 1  # the campaign's parameters
    metrics = version.metrics
    assert metrics, "the GSE was not evaluated"
