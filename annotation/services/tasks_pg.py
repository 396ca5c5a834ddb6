"""The two hot paths on PostgreSQL: one call of a database function each.

The functions (migrations 0002 and 0003) do in one round trip what the ORM path in
``tasks.py`` does in about ten; the load benchmark showed the server bound by those round trips
and the ORM's Python. Each call is one statement, so in autocommit it is its own transaction:
no BEGIN/COMMIT round trips either. Same guarantees and rules as the ORM path.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection

_NEXT = "SELECT annotation_task_next(%s, %s, %s, %s, %s, %s)"
_SUBMIT = "SELECT annotation_task_submit(%s, %s, %s, %s, %s, %s)"
_SUBMIT_NEXT = "SELECT annotation_task_submit_next(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"


def task_next(
    *, user_id: int, campaign_name: str, exclude: list[int], now: dt.datetime,
    max_leases: int, attempts: int,
) -> dict:
    """The function's answer: ``{"status": "leased", ...task payload}``, ``{"status": "none"}``
    or ``{"status": "no_campaign"}``."""
    with connection.cursor() as cur:
        cur.execute(_NEXT, [user_id, campaign_name, exclude, now, max_leases, attempts])
        return cur.fetchone()[0]


def task_submit(
    *, user_id: int, task_id: int, selected_ids: list[str], submission_id: str,
    duration_ms: int | None, now: dt.datetime,
) -> dict:
    """The function's answer; ``status`` is one of stored, repeat, no_task, submission_used,
    outside, lease_lost, other_iteration (``tasks.task_submit`` turns refusals into errors)."""
    with connection.cursor() as cur:
        cur.execute(_SUBMIT, [user_id, task_id, selected_ids, submission_id, duration_ms, now])
        return cur.fetchone()[0]


def task_submit_next(
    *, user_id: int, task_id: int, selected_ids: list[str], submission_id: str,
    duration_ms: int | None, now: dt.datetime, campaign_name: str, exclude: list[int],
    max_leases: int, attempts: int,
) -> dict:
    """Both in one call and one transaction: ``{"submitted": <task_submit's answer>, "next":
    <task_next's answer, or null when the answer was refused>}``."""
    with connection.cursor() as cur:
        cur.execute(_SUBMIT_NEXT, [user_id, task_id, selected_ids, submission_id, duration_ms,
                                   now, campaign_name, exclude, max_leases, attempts])
        return cur.fetchone()[0]
