"""Campaign statistics (``annotation.stats``: aggregate SQL) against a direct computation over
the same rows in Python, on a hand-made campaign with every shape the queries must handle:
tasks answered once, twice and three times, empty selections, a selection outside the
candidate set, skips, expired and live leases, a second campaign whose rows must not count,
answers spread over days (agreement buckets and "alpha so far")."""

from __future__ import annotations

import datetime as dt
import random
import statistics
from collections import defaultdict

import pytest
from django.db import connection
from django.utils import timezone

from annotation.agreement import campaign_agreement
from annotation.models import Annotation, Campaign, Candidate, CandidateSet, Lease, Skip, Task
from annotation.stats import campaign_stats
from tests.annotation.campaign_factory import annotator_create, campaign_build

pytestmark = pytest.mark.django_db


def _answer(task: Task, user, selected: list, *, at: dt.datetime, duration: int | None):
    answer = Annotation.objects.create(task=task, annotator=user, duration_ms=duration)
    answer.selected.set(selected)
    Annotation.objects.filter(pk=answer.pk).update(created_at=at)
    return answer


def _second_campaign(stickers) -> list[Task]:
    """Four tasks of another campaign over the same stickers (3 candidates each)."""
    campaign = Campaign.objects.create(name="other")
    tasks = []
    for anchor in stickers[:2]:
        for it in (1, 2):
            cset = CandidateSet.objects.create(campaign=campaign, anchor=anchor, iteration=it,
                                               retrieval_view="image")
            Candidate.objects.bulk_create(Candidate(candidate_set=cset, sticker=s, rank=r)
                                          for r, s in enumerate(stickers[5:8], start=1))
            tasks.append(Task.objects.create(candidate_set=cset, campaign=campaign,
                                             anchor=anchor, iteration=it))
    return tasks


def _campaign_with_everything():
    """12 anchors x 2 iterations; tasks 0-5 answered by 2 or 3 people over 5 days, 6-13 once,
    the rest not; skips, leases, and a second campaign answered by the same people."""
    rng = random.Random(14)
    fx = campaign_build(name="stats", anchors=12, candidates=8, per_task=2)
    other = _second_campaign(fx.stickers)
    users = [annotator_create(f"u{i}") for i in range(4)]
    start = timezone.now() - dt.timedelta(days=12)
    for k, task in enumerate(fx.tasks[:14]):
        candidates = list(task.candidate_set.candidates.order_by("rank")
                          .values_list("sticker", flat=True))
        answers = 3 if k in (0, 3) else 2 if k < 6 else 1
        for j in range(answers):
            chosen = rng.sample(candidates, rng.choice([0, 1, 2, 3]))
            if k == 4 and j == 0:
                chosen.append(fx.stickers[task.anchor_id % 3].pk)  # not a candidate
                chosen = list(set(chosen) - {task.anchor_id})
            _answer(task, users[(k + j) % 4], chosen,
                    at=start + dt.timedelta(hours=20 * k + j),
                    duration=None if (k, j) == (7, 0) else 900 + 137 * k + 61 * j)
    for task in fx.tasks[:3]:
        Task.objects.filter(pk=task.pk).update(status=Task.Status.DONE)
    Skip.objects.create(task=fx.tasks[20], annotator=users[1])
    Skip.objects.create(task=fx.tasks[21], annotator=users[1])
    now = timezone.now()
    Lease.objects.create(task=fx.tasks[15], annotator=users[2],
                         expires_at=now - dt.timedelta(minutes=5))
    Lease.objects.create(task=fx.tasks[16], annotator=users[3],
                         expires_at=now + dt.timedelta(minutes=5))
    for task in other:  # another campaign's rows never count here
        _answer(task, users[0], [], at=start, duration=5)
    Skip.objects.create(task=other[0], annotator=users[3])
    return fx, users


def _direct(campaign) -> dict:
    """The same figures computed in Python from every row (the reference)."""
    answers = list(Annotation.objects.filter(task__campaign=campaign)
                   .values_list("pk", "task_id", "task__iteration", "annotator__username",
                                "duration_ms", "created_at"))
    selected = defaultdict(set)
    for a, s in Annotation.selected.through.objects.values_list("annotation_id", "sticker_id"):
        selected[a].add(s)
    by_task = defaultdict(list)
    for pk, task, _, _, _, at in answers:
        by_task[task].append((pk, at))
    overlapping = {t: rows for t, rows in by_task.items() if len(rows) >= 2}
    candidates = defaultdict(list)
    for t, s in Candidate.objects.filter(candidate_set__task__in=list(overlapping)).order_by(
            "rank").values_list("candidate_set__task", "sticker_id"):
        candidates[t].append(s)
    tasks = [(max(at for _, at in rows), candidates[t], [selected[pk] for pk, _ in rows])
             for t, rows in overlapping.items()]
    task_ids = list(overlapping)
    per_user = defaultdict(list)
    for _, _, _, user, duration, _ in answers:
        per_user[user].append(duration)
    return {"answers": answers, "tasks": tasks, "task_ids": task_ids, "per_user": per_user}


def test_stats_equal_a_direct_computation_over_the_rows():
    # given
    fx, users = _campaign_with_everything()
    campaign = fx.campaign
    direct = _direct(campaign)
    # when
    stats = campaign_stats(campaign=campaign)
    # then: progress per iteration
    for row in stats["iterations"]:
        tasks = Task.objects.filter(campaign=campaign, iteration=row["iteration"])
        assert row["tasks"] == tasks.count() == 12
        assert row["done"] == tasks.filter(status=Task.Status.DONE).count()
        assert row["open"] == tasks.filter(status=Task.Status.OPEN).count()
        assert row["annotations"] == sum(1 for a in direct["answers"]
                                         if a[2] == row["iteration"])
        assert row["skips"] == Skip.objects.filter(task__in=tasks).count()
    assert sum(r["annotations"] for r in stats["iterations"]) == len(direct["answers"]) == 22
    # and per annotator: answers, skips and the median of the known durations
    rows = {r["annotator"]: r for r in stats["annotators"]}
    assert list(rows) == sorted(rows)
    for user, durations in direct["per_user"].items():
        known = [d for d in durations if d is not None]
        assert rows[user]["annotations"] == len(durations)
        assert rows[user]["median_ms"] == statistics.median(known)
    assert rows["u1"]["skips"] == 2 and rows["u3"]["skips"] == 0  # other campaign's skip
    # and agreement: overall equal to campaign_agreement over the answer sets
    expected = campaign_agreement((cands, sels) for _, cands, sels in direct["tasks"])
    assert stats["agreement"]["tasks"] == expected["tasks"] == 6
    assert stats["agreement"]["jaccard"] == pytest.approx(expected["jaccard"])
    assert stats["agreement"]["alpha"] == pytest.approx(expected["alpha"])
    # and leases
    assert stats["expired_lease_count"] == 1 and stats["live_lease_count"] == 1
    assert stats["expired_leases"][0]["annotator"] == "u2"


def test_agreement_over_time_per_bucket_and_so_far():
    # given: the overlapping tasks got their last answers over two days
    fx, _ = _campaign_with_everything()
    direct = _direct(fx.campaign)
    # when
    over_time = campaign_stats(campaign=fx.campaign)["agreement_over_time"]
    # then: day buckets (a span over 3 days), each equal to campaign_agreement of its tasks
    assert over_time["unit"] == "day"
    days = sorted({last.astimezone(dt.UTC).date() for last, _, _ in direct["tasks"]})
    assert [r["start"].astimezone(dt.UTC).date() for r in over_time["rows"]] == days
    so_far = []
    for row in over_time["rows"]:
        day = row["start"].astimezone(dt.UTC).date()
        here = [(c, s) for last, c, s in direct["tasks"] if last.astimezone(dt.UTC).date() == day]
        so_far += here
        expected = campaign_agreement(here)
        assert row["tasks"] == expected["tasks"]
        assert row["jaccard"] == pytest.approx(expected["jaccard"])
        assert row["alpha"] == pytest.approx(expected["alpha"])
        assert row["alpha_so_far"] == pytest.approx(campaign_agreement(so_far)["alpha"])


def test_agreement_above_the_sample_bound_is_over_a_fixed_sample(monkeypatch):
    # given: 6 overlapping tasks and a bound of 3
    fx, _ = _campaign_with_everything()
    direct = _direct(fx.campaign)
    monkeypatch.setattr("annotation.stats.AGREEMENT_SAMPLE", 3)
    # when
    agreement = campaign_stats(campaign=fx.campaign)["agreement"]
    # then: every overlapping task counted, the figures over the 3 whose id hashes lowest
    with connection.cursor() as cur:
        cur.execute("SELECT id FROM annotation_task WHERE id = ANY(%s)"
                    " ORDER BY hashint8(id), id LIMIT 3",
                    [[t.pk for t in fx.tasks[:6]]])
        sample = {row[0] for row in cur.fetchall()}
    chosen = [(c, s) for (_, c, s), task in zip(direct["tasks"], direct["task_ids"],
                                                strict=True) if task in sample]
    expected = campaign_agreement(chosen)
    assert (agreement["overlapping"], agreement["tasks"], agreement["sampled"]) == (6, 3, True)
    assert agreement["alpha"] == pytest.approx(expected["alpha"])
    assert agreement["jaccard"] == pytest.approx(expected["jaccard"])


def test_activity_buckets_count_each_answer_once():
    # given
    fx, _ = _campaign_with_everything()
    direct = _direct(fx.campaign)
    # when
    activity = campaign_stats(campaign=fx.campaign)["activity"]
    # then: day buckets (the answers span more than 3 days), summing to the per-day counts
    assert activity["unit"] == "day"
    expected = defaultdict(int)
    for _, _, it, _, _, at in direct["answers"]:
        expected[(at.astimezone(dt.UTC).date(), it)] += 1
    got = {(b["start"].astimezone(dt.UTC).date(), b["iteration"]): b["answers"]
           for b in activity["buckets"]}
    assert got == dict(expected)


def test_an_empty_campaign_has_no_figures():
    # given
    fx = campaign_build(name="empty", anchors=2, candidates=3)
    # when
    stats = campaign_stats(campaign=fx.campaign)
    # then
    assert [(r["tasks"], r["annotations"]) for r in stats["iterations"]] == [(2, 0), (2, 0)]
    assert stats["annotators"] == [] and stats["activity"]["buckets"] == []
    assert stats["agreement"] == {"tasks": 0, "jaccard": None, "alpha": None,
                                  "overlapping": 0, "sampled": False}
    assert stats["agreement_over_time"]["rows"] == []


def test_the_answer_copies_its_tasks_campaign_and_iteration_whatever_is_written():
    # given: answers written by the ORM and by plain SQL, naming no campaign or a wrong one
    fx = campaign_build(name="copy", anchors=2, candidates=3)
    other = Campaign.objects.create(name="copy-2")
    user = annotator_create("writer")
    orm = Annotation.objects.create(task=fx.tasks[1], annotator=user)
    with connection.cursor() as cur:
        cur.execute("INSERT INTO annotation_annotation (task_id, annotator_id, submission_id,"
                    " created_at, campaign_id, iteration) VALUES (%s, %s, '', now(), %s, 7)"
                    " RETURNING id", [fx.tasks[2].pk, user.pk, other.pk])
        raw = cur.fetchone()[0]
    # when: read back, and after save() of the created instance (which holds no copies)
    orm_row = Annotation.objects.get(pk=orm.pk)
    raw_row = Annotation.objects.get(pk=raw)
    orm.duration_ms = 5
    orm.save()
    # then: the task's own campaign and iteration every time
    assert (orm_row.campaign_id, orm_row.iteration) == (fx.campaign.pk, fx.tasks[1].iteration)
    assert (raw_row.campaign_id, raw_row.iteration) == (fx.campaign.pk, fx.tasks[2].iteration)
    saved = Annotation.objects.values_list("campaign_id", "iteration", "duration_ms").get(
        pk=orm.pk)
    assert saved == (fx.campaign.pk, fx.tasks[1].iteration, 5)
