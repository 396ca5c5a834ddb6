"""The campaign page's counts (migration 0008, ``annotation/sql/campaign_counts.sql``) against
a direct count of the rows, and their rebuild.

The triggers keep the counts in the transaction of the rows they count, so they cannot drift;
this is the proof on a live database (``manage.py campaign_counts --check``) and the repair if
something outside PostgreSQL's rules ever wrote them (``--rebuild``). The direct counts are the
SQL functions ``annotation_counts_direct_*`` that the rebuild writes from, compared in one
statement (one snapshot: the tables and the rows seen at the same moment).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction

from annotation.models import Campaign

# One row per figure that differs: (campaign id, what it counts, figure, stored, direct), the
# stored side summed over its shards, a missing row counted as 0.
CHECK_SQL = """
SELECT coalesce(s.campaign_id, d.campaign_id), 'iteration ' || coalesce(s.iteration,
       d.iteration), v.figure, v.stored::text, v.direct::text
FROM (SELECT campaign_id, iteration, sum(tasks) AS tasks, sum(done) AS done,
             sum(skips) AS skips, sum(overlapping) AS overlapping
      FROM annotation_iteration_counts
      WHERE %(campaign)s::bigint IS NULL OR campaign_id = %(campaign)s GROUP BY 1, 2) s
FULL JOIN annotation_counts_direct_iterations(%(campaign)s) d USING (campaign_id, iteration)
CROSS JOIN LATERAL (VALUES
  ('tasks', coalesce(s.tasks, 0), coalesce(d.tasks, 0)),
  ('done', coalesce(s.done, 0), coalesce(d.done, 0)),
  ('skips', coalesce(s.skips, 0), coalesce(d.skips, 0)),
  ('overlapping', coalesce(s.overlapping, 0), coalesce(d.overlapping, 0))
) v (figure, stored, direct)
WHERE v.stored <> v.direct
UNION ALL
SELECT coalesce(s.campaign_id, d.campaign_id),
       'iteration ' || coalesce(s.iteration, d.iteration) || ' hour '
       || to_char(coalesce(s.hour, d.hour) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:00 "UTC"'),
       'answers', coalesce(s.answers, 0)::text, coalesce(d.answers, 0)::text
FROM (SELECT campaign_id, iteration, hour, sum(answers) AS answers FROM annotation_answer_hours
      WHERE %(campaign)s::bigint IS NULL OR campaign_id = %(campaign)s GROUP BY 1, 2, 3) s
FULL JOIN annotation_counts_direct_hours(%(campaign)s) d USING (campaign_id, iteration, hour)
WHERE coalesce(s.answers, 0) <> coalesce(d.answers, 0)
UNION ALL
SELECT coalesce(s.campaign_id, d.campaign_id),
       'annotator ' || coalesce(u.username, coalesce(s.annotator_id, d.annotator_id)::text),
       v.figure, v.stored::text, v.direct::text
FROM (SELECT * FROM annotation_annotator_counts
      WHERE %(campaign)s::bigint IS NULL OR campaign_id = %(campaign)s) s
FULL JOIN annotation_counts_direct_annotators(%(campaign)s) d USING (campaign_id, annotator_id)
LEFT JOIN auth_user u ON u.id = coalesce(s.annotator_id, d.annotator_id)
CROSS JOIN LATERAL (VALUES
  ('answers', coalesce(s.answers, 0), coalesce(d.answers, 0)),
  ('timed answers', coalesce(s.timed, 0), coalesce(d.timed, 0)),
  ('skips', coalesce(s.skips, 0), coalesce(d.skips, 0))
) v (figure, stored, direct)
WHERE v.stored <> v.direct
UNION ALL
SELECT coalesce(s.campaign_id, d.campaign_id), 'task ' || coalesce(s.task_id, d.task_id),
       'overlap (answers, last answer)',
       coalesce(s.answers || ', ' || s.last_at, 'none'),
       coalesce(d.answers || ', ' || d.last_at, 'none')
FROM (SELECT * FROM annotation_overlap
      WHERE %(campaign)s::bigint IS NULL OR campaign_id = %(campaign)s) s
FULL JOIN annotation_counts_direct_overlap(%(campaign)s) d USING (task_id)
WHERE (s.campaign_id, s.iteration, s.answers, s.last_at, s.hash)
      IS DISTINCT FROM (d.campaign_id, d.iteration, d.answers::integer, d.last_at,
                        hashint8(d.task_id))
ORDER BY 1, 2, 3
"""


@dataclass(frozen=True)
class CountMismatch:
    """One stored figure that differs from the direct count of its rows."""

    campaign: str  # the campaign's name (or its id, when the campaign is gone)
    subject: str  # what is counted: "iteration 1", "annotator u1", "task 42", ...
    figure: str  # "done", "answers", ...
    stored: str
    direct: str

    def __str__(self) -> str:
        return (f"campaign {self.campaign}, {self.subject}: {self.figure} is {self.stored} in "
                f"the counts, {self.direct} in the rows")


def campaign_counts_check(*, campaign: Campaign | None = None) -> list[CountMismatch]:
    """Every figure of ``campaign`` (None: of every campaign) whose stored count differs from
    a direct count of the rows; an empty list when they all agree."""
    with connection.cursor() as cur:
        cur.execute(CHECK_SQL, {"campaign": campaign.pk if campaign else None})
        rows = cur.fetchall()
    names = dict(Campaign.objects.filter(pk__in={r[0] for r in rows}).values_list("pk", "name"))
    return [CountMismatch(names.get(cid, str(cid)), subject, figure, stored, direct)
            for cid, subject, figure, stored, direct in rows]


def campaign_counts_rebuild(*, campaign: Campaign | None = None) -> None:
    """Rewrites the counts of ``campaign`` (None: of every campaign) from the rows, holding
    off the writers of tasks, answers and skips until the transaction ends."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT annotation_counts_rebuild(%s)", [campaign.pk if campaign else None])
