"""The demo campaign (``manage.py demo_setup``: the shipped library, embedded with the shipped
demo encoder) with simulated annotators, a real pair build and a snapshot: what the README's
screenshots show.

The annotators are simulated from the library's own concept labels (demo/concepts.csv): a
candidate of the anchor's emoji concept is selected, one of the same group sometimes, with
a little disagreement between annotators. No GSE is trained here (minutes of CPU).
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from contextlib import contextmanager
from pathlib import Path

from django.contrib.auth import get_user_model
from django.utils import timezone

from annotation.models import Annotation, Campaign, Sticker, Task
from pairbuilder.models import Pair, PairBuild, PairReview

DEMO = Path(__file__).resolve().parents[2] / "demo"
TASKS_PER_ITERATION = 70
PASSWORD = "pw-dash-123"  # the same as tests/frontend/dashboard_factory.py


@contextmanager
def _no_bar(label: str):
    yield lambda *a, **k: None


def _concepts() -> dict[str, tuple[str, str]]:
    with open(DEMO / "concepts.csv", newline="", encoding="utf-8") as f:
        return {r["sticker_id"]: (r["concept"], r["group"]) for r in csv.DictReader(f)}


def _judge(anchor: str, candidate: str, concepts: dict, rng: random.Random) -> bool:
    a, c = concepts.get(anchor), concepts.get(candidate)
    if a is None or c is None:
        return False
    if a[0] == c[0]:
        return rng.random() < 0.95
    return a[1] == c[1] and rng.random() < 0.3


def _users():
    users = get_user_model()
    staff = users.objects.get(username="admin")
    staff.username = "ana"
    staff.set_password(PASSWORD)
    staff.save()
    out = []
    for old, new in zip(("annotator1", "annotator2", "annotator3"), ("ben", "chloe", "dara"),
                        strict=True):
        user = users.objects.get(username=old)
        user.username = new
        user.set_password(PASSWORD)
        user.save()
        out.append(user)
    return out


def _annotate(campaign: Campaign, annotators: list, rng: random.Random) -> None:
    concepts = _concepts()
    start = timezone.now() - dt.timedelta(hours=14)
    for iteration in (1, 2):
        tasks = list(Task.objects.filter(campaign=campaign, iteration=iteration)
                     .select_related("anchor").order_by("pk")[:TASKS_PER_ITERATION])
        for k, task in enumerate(tasks):
            candidates = list(task.candidate_set.candidates.select_related("sticker"))
            pair = rng.sample(annotators, 2)
            hour = k * 9 / len(tasks) + (4 if iteration == 2 else 0)  # iteration 2 starts later
            for user in pair:
                chosen = [c.sticker for c in candidates
                          if _judge(task.anchor.sticker_id, c.sticker.sticker_id, concepts, rng)]
                answer = Annotation.objects.create(
                    task=task, annotator=user, duration_ms=int(rng.gauss(9000, 3000) * (
                        0.7 if user.username == "ben" else 1.0)) + 2000)
                answer.selected.set(chosen)
                Annotation.objects.filter(pk=answer.pk).update(
                    created_at=start + dt.timedelta(hours=hour, minutes=rng.random() * 50))
            Task.objects.filter(pk=task.pk).update(status=Task.Status.DONE)


def demo_library_campaign() -> tuple:
    """Sets the demo up; returns (a dashboard-like fixture, the sticker to show)."""
    from encoder.demo import demo_setup
    from pairbuilder.services.builds import pair_build_params, pair_build_run
    from pairbuilder.services.snapshots import snapshot_create

    demo_setup(write=lambda line: None, progress_bar=_no_bar)
    rng = random.Random(7)
    annotators = _users()
    campaign = Campaign.objects.get(name="demo")
    Campaign.objects.filter(pk=campaign.pk).update(annotators_per_task=2)
    _annotate(campaign, annotators, rng)
    build = PairBuild.objects.create(campaign=campaign, params=pair_build_params(None))
    pair_build_run(build_id=build.pk)
    staff = get_user_model().objects.get(username="ana")
    for pair in Pair.objects.filter(build=build).order_by("pk")[:12]:
        PairReview.objects.create(campaign=campaign, sticker_a=pair.sticker_a,
                                  sticker_b=pair.sticker_b, label=pair.label,
                                  decision=PairReview.Decision.ACCEPT, reviewer=staff)
    try:
        snapshot_create(campaign=campaign, build=build, include_unreviewed=True)
    except Exception:  # a split short of a class: the dashboard still has everything else
        pass
    positives: dict[int, int] = {}
    for a, b in (Pair.objects.filter(build=build, label=1)
                 .values_list("sticker_a", "sticker_b")):
        positives[a] = positives.get(a, 0) + 1
        positives[b] = positives.get(b, 0) + 1
    animated = set(Sticker.objects.filter(pk__in=positives, is_animated=True)
                   .values_list("pk", flat=True))
    # an animated sticker with a few positives shows the most of the page
    best = max(positives, key=lambda pk: (pk in animated, min(positives[pk], 4), -pk))
    shown = Sticker.objects.get(pk=best)

    class _Fx:  # the shape test_screenshots.py reads: fx.campaign.campaign.name
        pass

    fx = _Fx()
    fx.campaign = _Fx()
    fx.campaign.campaign = campaign
    return fx, shown
