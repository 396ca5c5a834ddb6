"""A snapshot split that cannot be scored says so: the export warns and records it in the
manifest, and train_gse refuses it naming the missing class (issue 13)."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from pairbuilder.services.snapshots import split_warnings


def test_split_warnings_name_the_split_and_the_missing_class():
    # given a test split with positives only, from a build that lost negatives to no-text
    splits = {"train": {"pairs": 5, "positive": 3, "negative": 2},
              "val": {"pairs": 2, "positive": 1, "negative": 1},
              "test": {"pairs": 4, "positive": 4, "negative": 0}}
    # when
    warnings = split_warnings(splits, {"rejected_no_text": 1158})
    # then one warning, for the test split, saying why
    assert len(warnings) == 1
    assert warnings[0].startswith("test split: 4 pairs, 4 positive and 0 negative")
    assert "stickers without queries cannot become negatives" in warnings[0]
    assert "rejected 1158 negative candidates because a sticker had no queries" in warnings[0]


def test_scorable_splits_give_no_warning():
    splits = {name: {"pairs": 2, "positive": 1, "negative": 1} for name in ("train", "val",
                                                                             "test")}
    assert split_warnings(splits, {}) == []


@pytest.fixture
def positives_only_campaign(tmp_path, db):
    """A campaign whose only pairs are 12 positives over disjoint stickers (no queries)."""
    from pairbuilder import services
    from tests.pairbuilder.helpers import stickers_make

    names = [f"p{i:02d}.png" for i in range(24)]
    stickers_make(names)
    path = tmp_path / "positives.csv"
    rows = [f"{names[2 * i]},{names[2 * i + 1]},1" for i in range(12)]
    path.write_text("sticker_id,sticker_id_2,label\n" + "\n".join(rows) + "\n")
    return services.pairs_import(csv_path=path, campaign_name="no-queries").build.campaign


@pytest.mark.django_db
def test_export_warns_and_records_a_split_without_negatives(positives_only_campaign, tmp_path,
                                                           capsys):
    from pairbuilder.models import Snapshot

    # given a campaign with positives only
    # when its snapshot is exported
    call_command("export_snapshot", "--campaign", "no-queries", "--out", str(tmp_path / "out"),
                 "--include", "unreviewed")
    # then the command warns for each split and the manifest keeps the warnings
    err = capsys.readouterr().err
    assert "WARNING: test split:" in err and "no negative pair" in err
    manifest = Snapshot.objects.get().manifest
    assert any(w.startswith("test split:") for w in manifest["warnings"])
    assert any(w.startswith("validation split:") or w.startswith("val split:")
               for w in manifest["warnings"])


@pytest.mark.django_db
def test_train_gse_refuses_a_snapshot_without_negatives(positives_only_campaign, tiny_openclip,
                                                        settings, tmp_path):
    from pairbuilder import services

    # given an exported snapshot with positives only
    settings.GSE_MODELS_DIR = tmp_path / "models"
    services.snapshot_create(campaign=positives_only_campaign, include_unreviewed=True)
    # when train_gse runs / then it refuses, naming the split and the missing class
    with pytest.raises(CommandError, match=r"split: .*no negative pair") as caught:
        call_command("train_gse", "--snapshot", "latest", "--base", tiny_openclip["config_path"],
                     "--pretrained", tiny_openclip["checkpoint"], "--device", "cpu")
    assert "stickers without queries cannot become negatives" in str(caught.value)


@pytest.mark.django_db
def test_the_campaign_page_refuses_to_queue_training_on_it(positives_only_campaign,
                                                          admin_client):
    from encoder.models import EncoderVersion
    from pairbuilder import services

    # given an exported snapshot with positives only
    snapshot = services.snapshot_create(campaign=positives_only_campaign,
                                        include_unreviewed=True)
    # when an admin presses "Train GSE on latest snapshot"
    page = admin_client.post("/campaigns/no-queries/models/train/", follow=True)
    # then nothing is queued and the page says which class is missing and why
    text = page.content.decode()
    assert f"snapshot {snapshot.number}: validation split: " in text
    assert "no negative pair" in text
    assert "stickers without queries cannot become negatives" in text
    assert not EncoderVersion.objects.filter(kind=EncoderVersion.Kind.GSE).exists()
