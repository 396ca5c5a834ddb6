"""A campaign with something to chart: two annotators per task answering over several hours,
a skip, a finished pair build with pairs and rejections, a snapshot and a GSE with base,
baselines and intervals. Rows are made directly (no rules, no training), like
tests/annotation/campaign_factory.py."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from annotation.models import Annotation, Skip, Task
from encoder.models import EncoderVersion
from pairbuilder.models import Pair, PairBuild, PairReview, Snapshot
from tests.annotation.campaign_factory import CampaignFixture, annotator_create, campaign_build

ANNOTATORS = ("ana", "ben", "chloe")
PASSWORD = "pw-dash-123"


@dataclass
class DashboardFixture:
    campaign: CampaignFixture
    annotators: list[AbstractBaseUser]
    build: PairBuild
    snapshot: Snapshot
    gse: EncoderVersion
    start: dt.datetime  # the hour of the first answers


def _interval(point: float, width: float = 0.08) -> dict[str, float]:
    return {"point": point, "low": round(point - width, 3), "high": round(point + width, 3)}


def gse_metrics() -> dict:
    """Metrics as encoder.gse.pipeline.RunResult.metrics() stores them."""
    auc = {"GSE": 0.71, "base": 0.52, "pixels": 0.55, "histogram": 0.58, "dhash": 0.5,
           "phash": 0.49}
    f1 = {"GSE": 0.6, "base": 0.41, "pixels": 0.44, "histogram": 0.47, "dhash": 0.4,
          "phash": 0.39}
    summary = {k: {"accuracy": 0.6, "precision": 0.55, "recall": 0.6, "f1": f1[k],
                   "roc_auc": auc[k]} for k in auc}
    return {
        "gse": summary["GSE"], "base": summary["base"],
        "baselines": {k: summary[k] for k in ("pixels", "histogram", "dhash", "phash")},
        "bootstrap": {"scorers": {k: {"roc_auc": _interval(auc[k]), "f1": _interval(f1[k])}
                                  for k in auc}, "differences": {}, "reference": "GSE"},
        "verdict": "GSE beats the best baseline (histogram).",
    }


def dashboard_build(*, name: str = "dash", anchors: int = 6, animated: bool = False
                    ) -> DashboardFixture:
    """With ``animated``, sticker ``anchors`` is a GIF and the next one a webm."""
    fx = campaign_build(name=name, anchors=anchors, per_task=2, animated=animated)
    users = [annotator_create(u, password=PASSWORD) for u in ANNOTATORS]
    start = (timezone.now() - dt.timedelta(hours=8)).replace(minute=0, second=0, microsecond=0)
    for k, task in enumerate(fx.tasks):
        candidates = list(task.candidate_set.candidates.order_by("rank")
                          .values_list("sticker", flat=True))
        for j, user in enumerate((users[k % 3], users[(k + 1) % 3])):
            answer = Annotation.objects.create(task=task, annotator=user,
                                               duration_ms=2500 + 900 * k + 1300 * j)
            answer.selected.set(candidates[j: j + 1 + k % 4])  # overlapping, not equal
            # two tasks an hour, iteration 2 later than iteration 1; one hour left empty
            hour = k // 2 + (1 if k >= 4 else 0)
            Annotation.objects.filter(pk=answer.pk).update(
                created_at=start + dt.timedelta(hours=hour, minutes=5 + 20 * j))
        Task.objects.filter(pk=task.pk).update(status=Task.Status.DONE)
    Skip.objects.create(task=fx.tasks[0], annotator=users[2])
    build = PairBuild.objects.create(
        campaign=fx.campaign, status=PairBuild.Status.DONE, progress=1.0,
        params={"min_positive": 2, "min_displayed": 2, "max_query_overlap": 3,
                "max_text_cosine": 0.7},
        counts={"positive": 99, "negative": 99,  # stale tallies: the page must count rows
                "rejected_co_selected": 7, "rejected_query_overlap": 3,
                "rejected_text_cosine": 2, "rejected_no_text": 1},
        annotation_count=Annotation.objects.filter(task__campaign=fx.campaign).count())
    s = fx.stickers
    pairs = [(s[0], s[1], 1), (s[0], s[2], 1), (s[1], s[2], 1), (s[0], s[5], 0), (s[3], s[7], 0)]
    for a, b, label in pairs:
        a, b = sorted((a, b), key=lambda x: x.sticker_id)
        Pair.objects.create(build=build, sticker_a=a, sticker_b=b, label=label,
                            co_selected=3 if label else 0, co_displayed=4,
                            query_overlap=1 if label else 0,
                            text_cosine=0.81 if label else 0.12)
    PairReview.objects.create(campaign=fx.campaign, sticker_a=s[0], sticker_b=s[1], label=1,
                              decision=PairReview.Decision.ACCEPT, reviewer=users[0])
    number = (Snapshot.objects.order_by("-number").values_list("number", flat=True).first()
              or 0) + 1
    snapshot = Snapshot.objects.create(
        number=number, campaign=fx.campaign, build=build, status=Snapshot.Status.DONE,
        params={"seed": 0}, path="/srv/secret/var/snapshots/1", manifest={})
    gse = EncoderVersion.objects.create(
        version=f"gse-{name}-1", kind=EncoderVersion.Kind.GSE,
        model_name="/srv/secret/models/ViT-B-32.json", pretrained="/srv/secret/weights/base.pt",
        snapshot=snapshot, metrics=gse_metrics(), threshold=0.8,
        report_dir="/srv/secret/var/models/gse-1/report", status=EncoderVersion.Status.DONE)
    return DashboardFixture(fx, users, build, snapshot, gse, start)
