"""Task assignment and answers: lease the next task, submit a selection, skip (paper 001, 3.2).

The rules live once, in PostgreSQL functions (``annotation/sql/``); each service here is one
call of one function, in one statement, so in autocommit it is its own transaction and costs
one round trip. What they guarantee:
- one annotator's requests run one after the other (an advisory lock per annotator);
- the next task is taken with ``FOR UPDATE SKIP LOCKED`` and re-counted under its row lock, so
  two annotators never get the same slot (Label Studio #795); abandoned tasks go out first,
  then iteration 1 before iteration 2, in creation order; the two iterations of one anchor go to
  different annotators; expired leases are cleared, never "locked by another user" (#4190, #4781);
- an answer or a skip is stored only for a task the caller holds (their lease), once: a repeat
  returns the first answer (the page's outbox resends until the server answers).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from annotation.errors import ConflictError, InputError
from annotation.models import Annotation, Campaign, Skip, Task
from annotation.prepared import prepared_cursor

# Rows tried per task_next call before giving up: each try is one locked row whose counts went
# stale between the pick's snapshot and its lock (another annotator's lease committed between).
MAX_LEASE_ATTEMPTS = 8
# Live leases one annotator may hold in a campaign: the task on screen plus the one fetched
# ahead. More would let one client hoard tasks.
MAX_LEASES_PER_ANNOTATOR = 2
# The bounds of what the functions take: a PostgreSQL bigint, integer and the ids per list.
MAX_BIGINT = 2**63 - 1
MAX_INTEGER = 2**31 - 1
MAX_LIST = 100

LEASE_LOST = ("your lease on this task expired and another annotator has taken it; "
              "your answer was not stored, please go on with the next task")
NO_LEASE = "you do not hold this task: lease it with POST /api/campaigns/<name>/tasks/next/"

_NEXT = "SELECT annotation_task_next(%s, %s, %s, %s, %s, %s)"
_SUBMIT = "SELECT annotation_task_submit(%s, %s, %s, %s, %s, %s)"
_SUBMIT_NEXT = "SELECT annotation_task_submit_next(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
_SKIP = "SELECT annotation_task_skip(%s, %s, %s)"


@dataclass(frozen=True)
class LeasedTask:
    """A task leased to an annotator, with what the page shows of it.

    Sticker dicts have ``sticker_id``, ``file`` (storage name), ``media_type``,
    ``is_animated``, ``width``, ``height``; candidates add ``rank`` and come in rank order.
    """

    id: int
    campaign: str
    iteration: int
    anchor_id: int  # the anchor sticker's primary key
    anchor: dict
    candidates: list[dict]
    lease_expires_at: dt.datetime


@dataclass(frozen=True)
class Submitted:
    """The stored answer and whether this call stored it (False: a repeat of an earlier one)."""

    annotation: Annotation
    created: bool
    # The selection's sticker ids in rank order when this call already read them (saves the
    # API a query); None: read them with selectors.annotation_selected_ids.
    selected_ids: list[str] | None = None


def _call(sql: str, params: list) -> dict:
    with prepared_cursor() as cur:
        cur.execute(sql, params)
        value = cur.fetchone()[0]
    return json.loads(value) if isinstance(value, str) else value


def _ids(values: Iterable[int], name: str) -> list[int]:
    """Task ids as the functions take them: bigints, at most MAX_LIST."""
    ids = list(values)
    if len(ids) > MAX_LIST:
        raise InputError(name, f"at most {MAX_LIST} ids")
    if any(not 0 < i <= MAX_BIGINT for i in ids):
        raise InputError(name, f"ids are between 1 and {MAX_BIGINT}")
    return ids


def _checked_answer(selected_ids: list[str], submission_id: str,
                    duration_ms: int | None) -> tuple[list[str], int | None]:
    """The selection without repeats, and the duration clamped into the column's range."""
    if len(submission_id) > 64:
        raise InputError("submission_id", "at most 64 characters")
    selected = list(dict.fromkeys(selected_ids))
    if len(selected) > MAX_LIST:
        raise InputError("selected", f"at most {MAX_LIST} sticker ids")
    if duration_ms is None:
        return selected, None
    return selected, min(max(0, int(duration_ms)), MAX_INTEGER)


def _leased(found: dict, campaign_name: str) -> LeasedTask | None:
    """``annotation_task_next``'s answer as a LeasedTask (None: nothing left)."""
    if found["status"] == "no_campaign":
        raise Campaign.DoesNotExist(f"no campaign named {campaign_name!r}")
    if found["status"] != "leased":
        return None
    return LeasedTask(
        id=found["id"], campaign=campaign_name, iteration=found["iteration"],
        anchor_id=found["anchor_id"], anchor=found["anchor"], candidates=found["candidates"],
        lease_expires_at=dt.datetime.fromisoformat(found["lease_expires_at"]))


def task_next(
    *, annotator: AbstractBaseUser, campaign_name: str, exclude_task_ids: Iterable[int] = ()
) -> LeasedTask | None:
    """Leases the next task to the annotator, or returns the one they already hold.

    A live lease the annotator holds (not in ``exclude_task_ids``) comes back first, so a page
    refresh or a retried request never takes a second task. ``exclude_task_ids`` is how the page
    fetches ahead: "the next one after the task on my screen". Returns None when nothing is left
    for this annotator (or they already hold ``MAX_LEASES_PER_ANNOTATOR`` leases). Raises
    ``Campaign.DoesNotExist`` for an unknown campaign.
    """
    exclude = _ids(exclude_task_ids, "exclude")
    return _leased(_call(_NEXT, [annotator.pk, campaign_name, exclude, timezone.now(),
                                 MAX_LEASES_PER_ANNOTATOR, MAX_LEASE_ATTEMPTS]), campaign_name)


def _submitted(result: dict, *, annotator: AbstractBaseUser, task_id: int, submission_id: str,
               duration_ms: int | None, now: dt.datetime) -> Submitted:
    """``annotation_task_submit``'s answer as a Submitted (refusals raise)."""
    status = result["status"]
    if status == "stored":
        annotation = Annotation(pk=result["annotation_id"], task_id=task_id, annotator=annotator,
                                duration_ms=duration_ms, submission_id=submission_id,
                                created_at=now)
        return Submitted(annotation, created=True, selected_ids=result["selected"])
    if status == "repeat":
        return Submitted(Annotation.objects.get(pk=result["annotation_id"]), created=False)
    if status == "no_task":
        raise Task.DoesNotExist(f"no task {task_id}")
    if status == "submission_used":
        raise ConflictError("submission_id", f"{submission_id!r} was already used for task "
                                             f"{result['task']}, not {task_id}")
    if status == "outside":
        ids = sorted(result["ids"])
        raise ConflictError("selected",
                            f"not candidates of task {task_id}: {', '.join(ids[:5])}")
    raise ConflictError(f"task {task_id}", LEASE_LOST if status == "lease_lost" else NO_LEASE)


def task_submit(
    *,
    annotator: AbstractBaseUser,
    task_id: int,
    selected_ids: list[str],
    submission_id: str = "",
    duration_ms: int | None = None,
) -> Submitted:
    """Stores the annotator's selection for the task they hold (empty = "none are similar").

    Idempotent: a repeat with the same ``submission_id``, or any second answer by the same
    annotator to the same task, stores nothing and returns the first answer. Marks the task
    done once it has ``campaign.annotators_per_task`` answers and releases the lease. Raises
    ``Task.DoesNotExist`` for an unknown task, ConflictError (an InputError) for a refused
    answer (no lease, lease lost, a sticker that is not a candidate).
    """
    selected, duration = _checked_answer(selected_ids, submission_id, duration_ms)
    _ids([task_id], "task")
    now = timezone.now()
    result = _call(_SUBMIT, [annotator.pk, task_id, selected, submission_id, duration, now])
    return _submitted(result, annotator=annotator, task_id=task_id,
                      submission_id=submission_id, duration_ms=duration, now=now)


def task_submit_and_next(
    *,
    annotator: AbstractBaseUser,
    task_id: int,
    selected_ids: list[str],
    campaign_name: str,
    submission_id: str = "",
    duration_ms: int | None = None,
    exclude_task_ids: Iterable[int] = (),
) -> tuple[Submitted, LeasedTask | None]:
    """Stores the answer, then leases the annotator's next task in the campaign, in one
    database call: one request per task for a client that asks for the next task after every
    answer. An unknown campaign raises ``Campaign.DoesNotExist`` before anything is stored; a
    refused answer raises before anything is leased."""
    selected, duration = _checked_answer(selected_ids, submission_id, duration_ms)
    _ids([task_id], "task")
    exclude = _ids(exclude_task_ids, "exclude")
    now = timezone.now()
    found = _call(_SUBMIT_NEXT, [annotator.pk, task_id, selected, submission_id, duration, now,
                                 campaign_name, exclude, MAX_LEASES_PER_ANNOTATOR,
                                 MAX_LEASE_ATTEMPTS])
    if found["submitted"] is None:
        raise Campaign.DoesNotExist(f"no campaign named {campaign_name!r}")
    submitted = _submitted(found["submitted"], annotator=annotator, task_id=task_id,
                           submission_id=submission_id, duration_ms=duration, now=now)
    return submitted, _leased(found["next"], campaign_name) if found["next"] else None


def task_skip(*, annotator: AbstractBaseUser, task_id: int) -> Skip:
    """"I can't judge": records a Skip and frees the annotator's lease; the task goes back to
    the pool for the other annotators and counts for nothing. Skipping twice stores one Skip.
    Raises ``Task.DoesNotExist`` for an unknown task, InputError when the caller answered the
    task or does not hold it."""
    _ids([task_id], "task")
    found = _call(_SKIP, [annotator.pk, task_id, timezone.now()])
    status = found["status"]
    if status == "no_task":
        raise Task.DoesNotExist(f"no task {task_id}")
    if status == "answered":
        raise ConflictError(f"task {task_id}", "you already answered this task")
    if status == "no_lease":
        raise ConflictError(f"task {task_id}", NO_LEASE)
    return Skip.objects.get(pk=found["skip_id"])
