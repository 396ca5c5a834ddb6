"""The dashboard's series against plain SQL counts of the same rows (no browser needed)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Count

from annotation.models import Annotation
from frontend.selectors.dashboard import (
    annotation_activity,
    campaign_dashboard,
    model_label,
    pair_build_counts,
    snapshot_models,
)
from pairbuilder.models import Pair
from tests.frontend.dashboard_factory import dashboard_build

pytestmark = pytest.mark.django_db


def test_activity_counts_every_answer_once_in_its_hour_and_fills_empty_hours():
    # given: 12 tasks answered twice over six hours, with one hour left empty
    fx = dashboard_build()
    campaign = fx.campaign.campaign
    # when
    activity = annotation_activity(campaign=campaign)
    # then: hourly buckets, each hour's count equal to a SQL count of that hour
    assert activity["unit"] == "hour" and activity["iterations"] == [1, 2]
    for row in activity["rows"]:
        start = dt.datetime.fromisoformat(row["start"])
        in_hour = Annotation.objects.filter(task__campaign=campaign, created_at__gte=start,
                                            created_at__lt=start + dt.timedelta(hours=1))
        for i, it in enumerate(activity["iterations"]):
            assert row["counts"][i] == in_hour.filter(task__iteration=it).count()
        assert row["total"] == in_hour.count()
    # and the totals add up to every answer; the empty hour is a zero, not a missing bar
    assert sum(r["total"] for r in activity["rows"]) == Annotation.objects.filter(
        task__campaign=campaign).count() == 24
    assert 0 in [r["total"] for r in activity["rows"]]
    hours = [dt.datetime.fromisoformat(r["start"]) for r in activity["rows"]]
    assert all(b - a == dt.timedelta(hours=1) for a, b in zip(hours, hours[1:], strict=False))


def test_pairs_per_rule_are_counted_from_the_pair_rows_not_the_builds_tally():
    # given: a build whose stored tally says 99 positives, and five Pair rows
    fx = dashboard_build()
    # when
    rows = pair_build_counts(campaign=fx.campaign.campaign)["builds"]
    # then
    sql = dict(Pair.objects.filter(build=fx.build).values_list("label").annotate(n=Count("pk")))
    assert (rows[0]["positive"], rows[0]["negative"]) == (sql[1], sql[0]) == (3, 2)
    assert rows[0]["rejected_co_selected"] == 7  # rejections exist only as the build's tally
    assert "query overlap < 3" in rows[0]["rules"]


def test_models_show_labels_and_intervals_never_server_paths():
    # given: a GSE whose model config and base weights are files on the server
    fx = dashboard_build()
    # when
    models = snapshot_models(campaign=fx.campaign.campaign)
    # then: one GSE on snapshot N with GSE, base and the four surface baselines
    assert len(models) == 1 and models[0]["snapshot"] == fx.snapshot.number
    labels = [s["label"] for s in models[0]["scorers"]]
    assert labels == ["GSE", "Base model", "Raw pixels", "Colour histogram", "Difference hash",
                      "Perceptual hash"]
    gse = models[0]["scorers"][0]
    assert (gse["auc"], gse["auc_low"], gse["auc_high"]) == (0.71, 0.63, 0.79)
    assert "/srv" not in repr(campaign_dashboard(campaign=fx.campaign.campaign))
    assert model_label("/srv/secret/models/ViT-B-32.json") == "ViT-B-32"
    assert model_label("ViT-B-32") == "ViT-B-32"
