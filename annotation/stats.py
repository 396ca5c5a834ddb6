"""Campaign statistics as aggregate queries: progress, answers over time, annotators' volume
and pace, agreement, leases (the campaign page and ``GET /api/campaigns/<name>/stats/``).

Every count is read from tables the database keeps in the transaction of the rows they count
(statement-level triggers: ``annotation/sql/campaign_counts.sql``, migration 0008), so no
figure can drift from its rows (SPEC.md: counts from the database, not cached tallies; Label
Studio #7902) and none grows with the campaign: per iteration tasks, done, skips and
overlapping tasks; answers per hour and iteration; answers, timed answers and skips per
annotator; the overlapping tasks themselves in hash order. A count row is split in shards
(concurrent submits do not queue on one row lock), so each figure is a ``sum()``.
``annotation.services.campaign_counts`` compares them with a direct count and rebuilds them.
Python only shapes the few hundred rows that come back, never loops over tasks or answers.

Agreement is computed in SQL, not by streaming the answer sets to Python: only the tasks with
two or more answers are read (their answers, selections and candidates, through indexes),
and each task is reduced to six sums from which Jaccard and Krippendorff's alpha follow
exactly (``annotation.agreement.alpha_from_totals``), per time bucket and cumulatively.
Above ``AGREEMENT_SAMPLE`` overlapping tasks the figures are over a fixed sample of them (the
page says so); every count is exact.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.utils import timezone

from annotation.agreement import alpha_from_totals
from annotation.models import Campaign, Lease

# Time buckets: hours for a campaign of a few days, then days, then weeks, so a chart never
# has more than a few hundred bars. Buckets start at this Monday, 00:00 UTC (weeks start on
# Mondays, days at midnight UTC).
BUCKET_ORIGIN = dt.datetime(2000, 1, 3, tzinfo=dt.UTC)
_UNIT_SQL = """CASE WHEN {span} <= interval '3 days' THEN 'hour'
                    WHEN {span} <= interval '180 days' THEN 'day' ELSE 'week' END"""
_STEP_SQL = """CASE {unit} WHEN 'hour' THEN interval '1 hour' WHEN 'day' THEN interval '1 day'
                           ELSE interval '7 days' END"""

# Tasks, done and skips per iteration (an iteration whose tasks were all deleted is gone).
PROGRESS_SQL = """
SELECT iteration, sum(tasks)::bigint, sum(done)::bigint, sum(skips)::bigint
FROM annotation_iteration_counts WHERE campaign_id = %(campaign)s
GROUP BY iteration HAVING sum(tasks) > 0 ORDER BY iteration
"""

# Answers per hour and iteration, then per bucket. The unit is chosen from the first and last
# hours with answers (the span of the answers' times, to within an hour).
ACTIVITY_SQL = f"""
WITH hours AS (
  SELECT iteration, hour, sum(answers) AS n FROM annotation_answer_hours
  WHERE campaign_id = %(campaign)s GROUP BY 1, 2 HAVING sum(answers) <> 0
), span AS (
  SELECT {_UNIT_SQL.format(span="max(hour) - min(hour)")} AS unit FROM hours
)
SELECT span.unit, date_bin({_STEP_SQL.format(unit="span.unit")}, hour, %(origin)s) AS bucket,
       iteration, sum(n)::bigint
FROM hours, span GROUP BY 1, 2, 3 ORDER BY 2, 3
"""

# Answers, skips and the median seconds per task of each annotator. The median is read at its
# offset in (campaign, annotator, duration_ms) (the mean of the two middle values for an even
# count, as statistics.median), not by sorting the durations.
ANNOTATORS_SQL = """
SELECT u.username, c.answers, c.skips,
       (SELECT avg(d.duration_ms) FROM (
          SELECT x.duration_ms FROM annotation_annotation x
          WHERE x.campaign_id = %(campaign)s AND x.annotator_id = c.annotator_id
            AND x.duration_ms IS NOT NULL
          ORDER BY x.duration_ms OFFSET (c.timed - 1) / 2 LIMIT 2 - c.timed %% 2) d)
FROM annotation_annotator_counts c JOIN auth_user u ON u.id = c.annotator_id
WHERE c.campaign_id = %(campaign)s AND (c.answers <> 0 OR c.skips <> 0)
ORDER BY u.username COLLATE "C"
"""

# At most this many overlapping tasks are read for agreement: all of them up to it (exact),
# beyond it the ones whose id hashes lowest (a fixed, time-uniform sample, said on the page).
# 5,000 tasks x 20 candidates = 100,000 units: alpha's sampling error is about 0.01 there,
# while reading every overlapping task of a big campaign (100,000 answers, their selections and
# candidates, index probe by probe) would cost seconds per page.
AGREEMENT_SAMPLE = 5_000

# Agreement on the tasks with two or more answers (annotation_overlap, kept by trigger: the
# sample is its index read in hash order), as six sums per bucket of the time the task got
# its last answer. Per task, with m answers and k of them selecting a candidate:
# values = m x candidates, selected = sum k, disagreement = sum 2 k (m - k) / (m - 1) (the
# nominal alpha's observed disagreement over the candidate units), and the Jaccard index of
# every pair of answers from the sizes of their selections and the stickers they share.
# The sampled tasks' rows are read through indexes, task by task (LATERAL ... OFFSET 0 keeps
# the planner from scanning whole tables for them).
AGREEMENT_SQL = f"""
WITH chosen AS MATERIALIZED (
  SELECT o.task_id, o.m, o.last_at, t.candidate_set_id,
         (SELECT count(*) FROM annotation_candidate c
          WHERE c.candidate_set_id = t.candidate_set_id) AS candidates
  FROM (SELECT task_id, answers AS m, last_at FROM annotation_overlap
        WHERE campaign_id = %(campaign)s ORDER BY hash, task_id LIMIT %(sample)s) o
  CROSS JOIN LATERAL (SELECT t.candidate_set_id FROM annotation_task t
                      WHERE t.id = o.task_id OFFSET 0) t
), answers AS MATERIALIZED (
  SELECT c.task_id, c.m, a.id, a.picked
  FROM chosen c CROSS JOIN LATERAL (
    SELECT x.id, ARRAY(SELECT s.sticker_id FROM annotation_annotation_selected s
                       WHERE s.annotation_id = x.id) AS picked
    FROM annotation_annotation x WHERE x.task_id = c.task_id OFFSET 0) a
), votes AS MATERIALIZED (
  SELECT a.task_id, a.m, p.sticker_id, array_agg(a.id) AS ids
  FROM answers a CROSS JOIN unnest(a.picked) AS p(sticker_id) GROUP BY 1, 2, 3
), units AS (
  SELECT v.task_id, sum(cardinality(v.ids)) AS selected,
         sum(2.0 * cardinality(v.ids) * (v.m - cardinality(v.ids)) / (v.m - 1)) AS disagreement
  FROM votes v JOIN chosen c ON c.task_id = v.task_id
  WHERE (SELECT true FROM annotation_candidate k
         WHERE k.candidate_set_id = c.candidate_set_id AND k.sticker_id = v.sticker_id)
  GROUP BY v.task_id
), shared AS (
  SELECT x, y, count(*) AS n
  FROM votes v CROSS JOIN unnest(v.ids) x CROSS JOIN unnest(v.ids) y WHERE x < y
  GROUP BY 1, 2
), pairs AS (
  SELECT x.task_id, count(*) AS pairs,
         sum(CASE WHEN cardinality(x.picked) + cardinality(y.picked) = 0 THEN 1.0
                  ELSE coalesce(s.n, 0)::float8
                       / (cardinality(x.picked) + cardinality(y.picked) - coalesce(s.n, 0))
             END) AS jaccard_sum
  FROM answers x JOIN answers y ON y.task_id = x.task_id AND x.id < y.id
  LEFT JOIN shared s ON s.x = x.id AND s.y = y.id
  GROUP BY x.task_id
), per_task AS (
  SELECT c.last_at, p.pairs, p.jaccard_sum, c.m * c.candidates AS n_values,
         coalesce(u.selected, 0) AS selected, coalesce(u.disagreement, 0) AS disagreement
  FROM chosen c JOIN pairs p ON p.task_id = c.task_id LEFT JOIN units u ON u.task_id = c.task_id
), span AS (
  SELECT {_UNIT_SQL.format(span="max(last_at) - min(last_at)")} AS unit FROM per_task
)
SELECT span.unit, (SELECT sum(overlapping)::bigint FROM annotation_iteration_counts
                   WHERE campaign_id = %(campaign)s),
       date_bin({_STEP_SQL.format(unit="span.unit")}, last_at, %(origin)s) AS bucket,
       count(*), sum(pairs)::bigint, sum(jaccard_sum)::float8, sum(n_values)::bigint,
       sum(selected)::bigint, sum(disagreement)::float8
FROM per_task, span GROUP BY 1, 3 ORDER BY 3
"""


def _rows(sql: str, campaign: Campaign) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, {"campaign": campaign.pk, "origin": BUCKET_ORIGIN,
                          "sample": AGREEMENT_SAMPLE})
        return cur.fetchall()


def answer_activity(*, campaign: Campaign) -> dict[str, Any]:
    """Answers per bucket and iteration: ``{"unit", "buckets": [{"start", "iteration",
    "answers"}]}`` in time order, buckets without answers left out."""
    rows = _rows(ACTIVITY_SQL, campaign)
    return {"unit": rows[0][0] if rows else "hour",
            "buckets": [{"start": start, "iteration": it, "answers": n}
                        for _, start, it, n in rows]}


def _agreement_figures(totals: dict[str, float]) -> dict[str, float | int | None]:
    return {"tasks": int(totals["tasks"]),
            "jaccard": totals["jaccard_sum"] / totals["pairs"] if totals["pairs"] else None,
            "alpha": alpha_from_totals(values=int(totals["values"]),
                                       selected=int(totals["selected"]),
                                       disagreement=totals["disagreement"])}


def agreement_by_bucket(*, campaign: Campaign) -> dict[str, Any]:
    """Agreement on the overlapping tasks, overall and per bucket of the time each task got its
    last answer (that bucket's tasks, and every task up to it: ``alpha_so_far``), from one
    query, over at most ``AGREEMENT_SAMPLE`` of them. Returns ``{"overall": {tasks, jaccard,
    alpha, overlapping, sampled}, "unit", "rows": [{"start", "tasks", "jaccard", "alpha",
    "alpha_so_far"}]}``; only buckets in which an overlap completed. ``tasks`` counts the tasks
    the figures are over, ``overlapping`` every task with 2+ answers (``sampled`` when fewer)."""
    keys = ("tasks", "pairs", "jaccard_sum", "values", "selected", "disagreement")
    rows = _rows(AGREEMENT_SQL, campaign)
    so_far, out = dict.fromkeys(keys, 0), []
    for _, _, start, *sums in rows:
        here = dict(zip(keys, sums, strict=True))
        so_far = {k: so_far[k] + here[k] for k in keys}
        figures = _agreement_figures(here)
        out.append({"start": start, **figures,
                    "alpha_so_far": _agreement_figures(so_far)["alpha"]})
    overlapping = rows[0][1] if rows else 0
    overall = {**_agreement_figures(so_far), "overlapping": overlapping,
               "sampled": overlapping > so_far["tasks"]}
    return {"overall": overall, "unit": rows[0][0] if rows else "day", "rows": out}


def _median(value) -> float | int | None:
    """avg() answers a Decimal; an int when whole, as statistics.median over ints."""
    if value is None:
        return None
    return int(value) if value == int(value) else float(value)


def annotator_rows(*, campaign: Campaign) -> list[dict[str, Any]]:
    """Per annotator (by username): answers, skips and the median ``duration_ms``."""
    return [{"annotator": name, "annotations": n, "skips": skips, "median_ms": _median(median)}
            for name, n, skips, median in _rows(ANNOTATORS_SQL, campaign)]


def iteration_progress(*, campaign: Campaign, activity: dict[str, Any]) -> list[dict]:
    """Tasks, done, open, answers and skips per iteration; answers summed from ``activity``
    (``answer_activity``'s buckets), so the campaign's answers are read once."""
    answers: dict[int, int] = {}
    for bucket in activity["buckets"]:
        answers[bucket["iteration"]] = answers.get(bucket["iteration"], 0) + bucket["answers"]
    return [{"iteration": it, "tasks": tasks, "done": done, "open": tasks - done,
             "annotations": answers.get(it, 0), "skips": skips}
            for it, tasks, done, skips in _rows(PROGRESS_SQL, campaign)]


def lease_rows(*, campaign: Campaign, expired_limit: int) -> dict[str, Any]:
    """The oldest ``expired_limit`` expired leases, and the expired and live counts."""
    now = timezone.now()
    leases = Lease.objects.filter(task__campaign=campaign)
    expired = leases.filter(expires_at__lte=now).select_related("task__anchor", "annotator")
    return {
        "expired_leases": [
            {"task": lease.task_id, "anchor": lease.task.anchor.sticker_id,
             "iteration": lease.task.iteration, "annotator": lease.annotator.get_username(),
             "expired_at": lease.expires_at}
            for lease in expired.order_by("expires_at")[:expired_limit]
        ],
        "expired_lease_count": expired.count(),
        "live_lease_count": leases.filter(expires_at__gt=now).count(),
    }


def campaign_stats(*, campaign: Campaign, expired_limit: int = 100) -> dict[str, Any]:
    """The campaign page's and the stats API's figures, each computed once: progress per
    iteration, answers over time, per annotator, expired and live leases, agreement overall
    and over time."""
    activity = answer_activity(campaign=campaign)
    agreement = agreement_by_bucket(campaign=campaign)
    return {
        "iterations": iteration_progress(campaign=campaign, activity=activity),
        "annotators": annotator_rows(campaign=campaign),
        **lease_rows(campaign=campaign, expired_limit=expired_limit),
        "agreement": agreement["overall"],
        "agreement_over_time": {"unit": agreement["unit"], "rows": agreement["rows"]},
        "activity": activity,
    }
