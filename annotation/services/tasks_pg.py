"""PostgreSQL statements for the two hot paths: pick and lease a task, store an answer.

The ORM versions in ``tasks.py`` take ~14 round trips per call; the load benchmark showed the
server CPU-bound in Python, so on PostgreSQL these hand-written statements do the same work in
a few. Same guarantees, same rules as ``selectors.tasks_available``: each statement's comment
says which one it keeps. Table names are read from the models so a rename cannot desync them.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.db import connection

from annotation.models import Annotation, Campaign, Candidate, Lease, Skip, Sticker, Task

T = Task._meta.db_table
L = Lease._meta.db_table
A = Annotation._meta.db_table
S = Skip._meta.db_table
C = Campaign._meta.db_table
CAND = Candidate._meta.db_table
STK = Sticker._meta.db_table
SEL = Annotation.selected.through._meta.db_table
USER = get_user_model()._meta.db_table


def annotator_lock(*, user_id: int) -> None:
    """Locks the annotator's user row until the transaction ends."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT 1 FROM {USER} WHERE id = %s FOR UPDATE", [user_id])

# Open tasks this annotator may take, locked with SKIP LOCKED (two annotators never wait on,
# nor get, the same row). Excluded: skipped tasks, and every task whose anchor the annotator
# answered or holds a live lease on (that covers the tasks themselves and the other iteration);
# tasks whose answers + live leases reach the per-task target.
_PICK = f"""
SELECT t.id FROM {T} t
WHERE t.campaign_id = %(campaign)s AND t.status = 'open' AND t.id <> ALL(%(exclude)s)
  AND t.id NOT IN (SELECT s.task_id FROM {S} s WHERE s.annotator_id = %(user)s)
  AND t.anchor_id NOT IN (
    SELECT mt.anchor_id FROM {T} mt WHERE mt.campaign_id = %(campaign)s AND (
      mt.id IN (SELECT a.task_id FROM {A} a WHERE a.annotator_id = %(user)s)
      OR mt.id IN (SELECT l.task_id FROM {L} l
                   WHERE l.annotator_id = %(user)s AND l.expires_at > %(now)s)))
  AND (SELECT count(*) FROM {A} a WHERE a.task_id = t.id)
    + (SELECT count(*) FROM {L} l WHERE l.task_id = t.id AND l.expires_at > %(now)s)
    < %(per_task)s
ORDER BY t.id LIMIT 1
FOR UPDATE OF t SKIP LOCKED
"""

# Under the task's row lock, in a new statement (so a new READ COMMITTED snapshot): re-count
# answers + others' live leases, since the pick's snapshot may predate a lease another
# annotator committed just before we locked the row. Expired leases on the task are cleared
# (they must not linger as "held by another user"); the annotator's own expired lease, if any,
# is renewed by the upsert. Returns no row when the task filled up meanwhile.
_LEASE = f"""
WITH expired AS (
  DELETE FROM {L} WHERE task_id = %(task)s AND expires_at <= %(now)s
    AND annotator_id <> %(user)s)
INSERT INTO {L} (task_id, annotator_id, expires_at, created_at)
SELECT t.id, %(user)s, %(now)s + c.lease_seconds * interval '1 second', %(now)s
FROM {T} t JOIN {C} c ON c.id = t.campaign_id
WHERE t.id = %(task)s AND t.status = 'open'
  AND (SELECT count(*) FROM {A} a WHERE a.task_id = t.id)
    + (SELECT count(*) FROM {L} l WHERE l.task_id = t.id AND l.expires_at > %(now)s
       AND l.annotator_id <> %(user)s) < c.annotators_per_task
ON CONFLICT (task_id, annotator_id)
  DO UPDATE SET expires_at = EXCLUDED.expires_at, created_at = EXCLUDED.created_at
RETURNING task_id
"""


def task_pick_and_lease(
    *, user_id: int, campaign: Campaign, exclude: list[int], now: dt.datetime, attempts: int
) -> int | None:
    """The id of the task now leased to the annotator, or None when none is left.

    Call inside a transaction that holds the annotator's row lock.
    """
    tried = list(exclude)
    with connection.cursor() as cur:
        for _ in range(attempts):
            cur.execute(_PICK, {"campaign": campaign.pk, "exclude": tried, "user": user_id,
                                "now": now, "per_task": campaign.annotators_per_task})
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute(_LEASE, {"task": row[0], "user": user_id, "now": now})
            if cur.fetchone() is not None:
                return row[0]
            tried.append(row[0])
    return None


# The task's row lock (OF the task only: locking the campaign row would serialize every
# submit), the per-task target, and whether the annotator holds a live lease on it.
_LOCK_TASK = f"""
SELECT t.status, c.annotators_per_task, t.candidate_set_id,
  EXISTS (SELECT 1 FROM {L} l WHERE l.task_id = t.id AND l.annotator_id = %(user)s
          AND l.expires_at > %(now)s)
FROM {T} t JOIN {C} c ON c.id = t.campaign_id WHERE t.id = %(task)s
FOR UPDATE OF t
"""

_SELECTION = f"""
SELECT s.id, s.sticker_id FROM {CAND} cd JOIN {STK} s ON s.id = cd.sticker_id
WHERE cd.candidate_set_id = %(set)s AND s.sticker_id = ANY(%(wanted)s)
ORDER BY cd.rank
"""

# One statement stores the answer, its selection, frees the lease and marks the task done.
# The count sees the answers committed before ours (the task's row lock keeps any other
# answer out meanwhile) but not ours, which shares this statement's snapshot: hence the + 1.
_STORE = f"""
WITH ann AS (
  INSERT INTO {A} (task_id, annotator_id, duration_ms, submission_id, created_at)
  VALUES (%(task)s, %(user)s, %(duration)s, %(submission)s, %(now)s) RETURNING id),
sel AS (
  INSERT INTO {SEL} (annotation_id, sticker_id)
  SELECT ann.id, unnest(%(stickers)s::bigint[]) FROM ann),
freed AS (
  DELETE FROM {L} WHERE task_id = %(task)s AND annotator_id = %(user)s),
done AS (
  UPDATE {T} SET status = 'done' WHERE id = %(task)s
    AND (SELECT count(*) FROM {A} a WHERE a.task_id = %(task)s) + 1 >= %(per_task)s)
SELECT id FROM ann
"""


def task_lock_for_answer(
    *, user_id: int, task_id: int, now: dt.datetime
) -> tuple[str, int, int, bool]:
    """Locks the task row: (status, annotators_per_task, candidate_set_id, holds_live_lease)."""
    with connection.cursor() as cur:
        cur.execute(_LOCK_TASK, {"user": user_id, "task": task_id, "now": now})
        return cur.fetchone()


def task_selection(*, candidate_set_id: int, wanted: list[str]) -> list[tuple[int, str]]:
    """(sticker pk, sticker_id) of the wanted ids that are candidates, in rank order."""
    with connection.cursor() as cur:
        cur.execute(_SELECTION, {"set": candidate_set_id, "wanted": wanted})
        return cur.fetchall()


def annotation_store(
    *, user_id: int, task_id: int, per_task: int, sticker_pks: list[int], submission_id: str,
    duration_ms: int | None, now: dt.datetime,
) -> int:
    """Inserts the answer and its selection, frees the lease, marks the task done if full."""
    with connection.cursor() as cur:
        cur.execute(_STORE, {"task": task_id, "user": user_id, "duration": duration_ms,
                             "submission": submission_id, "now": now,
                             "stickers": sticker_pks, "per_task": per_task})
        return cur.fetchone()[0]
