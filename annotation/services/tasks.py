"""Task assignment and answers: lease the next task, submit a selection, skip (paper 001, 3.2).

Concurrency lives in the database, not in Python memory:
- each service first takes the annotator's lock (an advisory lock on PostgreSQL, the user row
  elsewhere), so one annotator's parallel requests (two tabs, a retried POST) run one after
  the other;
- ``task_next`` takes the candidate task row with ``SELECT ... FOR UPDATE SKIP LOCKED`` on
  PostgreSQL, so two annotators never wait on, nor get, the same row; every write that adds a
  lease or an answer to a task holds that task's row lock, so a count re-read under the lock
  is the truth (Label Studio #795: two people given the same task).

On PostgreSQL the two hot paths are one database function call each (``tasks_pg``, migration
0002); elsewhere the ORM path below does the same work. SQLite has no row locks; there the ORM
path is correct for one process (writes are serialized by SQLite's database lock), which is
what the laptop demo needs.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import OuterRef, Q, QuerySet
from django.utils import timezone

from annotation.errors import InputError
from annotation.models import Annotation, Campaign, Lease, Skip, Sticker, Task
from annotation.selectors import (
    count_subquery,
    leases_live,
    task_candidate_rows,
    task_slots_free,
    tasks_abandoned,
    tasks_available,
)
from annotation.services import tasks_pg

# Rows tried per task_next call before giving up: each try is one locked row whose counts went
# stale between our snapshot and our lock (another annotator's lease committed in between).
MAX_LEASE_ATTEMPTS = 8
# Live leases one annotator may hold in a campaign: the task on screen plus the one fetched
# ahead. More would let one client hoard tasks.
MAX_LEASES_PER_ANNOTATOR = 2
# Advisory-lock namespace of "one annotator's requests, one at a time" on PostgreSQL: the
# number the functions of migration 0002 use.
ANNOTATOR_LOCK = 1_406_213

LEASE_LOST = ("your lease on this task expired and another annotator has taken it; "
              "your answer was not stored, please go on with the next task")
OTHER_ITERATION = "you already judged this anchor in the other iteration"


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


def _on_postgresql() -> bool:
    """Whether the database functions of migration 0002 (``tasks_pg``) serve the hot paths."""
    return connection.vendor == "postgresql"


def _decoded(value: dict | str) -> dict:
    return json.loads(value) if isinstance(value, str) else value


def _leased_task(*, task: Task, expires_at: dt.datetime) -> LeasedTask:
    """The ORM path's LeasedTask: ``task`` with campaign and anchor loaded."""
    anchor = task.anchor
    return LeasedTask(
        id=task.pk, campaign=task.campaign.name, iteration=task.iteration,
        anchor_id=anchor.pk,
        anchor={"sticker_id": anchor.sticker_id, "file": anchor.file.name,
                "media_type": anchor.media_type, "is_animated": anchor.is_animated,
                "width": anchor.width, "height": anchor.height},
        candidates=task_candidate_rows(task=task), lease_expires_at=expires_at,
    )


def _lock_annotator(annotator: AbstractBaseUser) -> None:
    """Serializes one annotator's requests: the per-annotator checks below read then write.

    On PostgreSQL the same advisory lock as the database functions take (the user row is
    never written for it); elsewhere the user row's lock.
    """
    if _on_postgresql():
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, mod(%s, 2147483647)::integer)",
                        [ANNOTATOR_LOCK, annotator.pk])
        return
    get_user_model().objects.select_for_update().filter(pk=annotator.pk).exists()


def _skip_locked(queryset: QuerySet[Task]) -> QuerySet[Task]:
    """FOR UPDATE SKIP LOCKED OF the task rows where the database has it (PostgreSQL)."""
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True, of=("self",))
    return queryset


def _first_unlocked(tasks: QuerySet[Task]) -> int | None:
    """The first of ``tasks`` in their order that no other transaction holds, locked."""
    return _skip_locked(tasks).values_list("pk", flat=True).first()


def _lock_of_self(queryset: QuerySet[Task]) -> QuerySet[Task]:
    if connection.features.has_select_for_update_of:
        return queryset.select_for_update(of=("self",))
    return queryset.select_for_update()


def _lease_create(*, task: Task, annotator: AbstractBaseUser, now: dt.datetime) -> Lease:
    # Expired leases on this task are cleared here, under the task's row lock, so they neither
    # linger as "locked by another user" (Label Studio #4190, #4781) nor race with other writers.
    Lease.objects.filter(task=task, expires_at__lte=now).delete()
    expires_at = now + dt.timedelta(seconds=task.campaign.lease_seconds)
    return Lease.objects.create(task=task, annotator=annotator, expires_at=expires_at)


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
    exclude = list(exclude_task_ids)
    now = timezone.now()
    if _on_postgresql():
        return _leased_task_pg(tasks_pg.task_next(
            user_id=annotator.pk, campaign_name=campaign_name, exclude=exclude, now=now,
            max_leases=MAX_LEASES_PER_ANNOTATOR, attempts=MAX_LEASE_ATTEMPTS), campaign_name)
    campaign = Campaign.objects.get(name=campaign_name)
    with transaction.atomic():
        _lock_annotator(annotator)
        return _task_next_orm(annotator=annotator, campaign=campaign, exclude=exclude, now=now)


def _leased_task_pg(found: dict | str, campaign_name: str) -> LeasedTask | None:
    """``annotation_task_next``'s answer as task_next returns it."""
    found = _decoded(found)
    if found["status"] == "no_campaign":
        raise Campaign.DoesNotExist(f"no campaign named {campaign_name!r}")
    if found["status"] != "leased":
        return None
    return LeasedTask(
        id=found["id"], campaign=campaign_name, iteration=found["iteration"],
        anchor_id=found["anchor_id"], anchor=found["anchor"], candidates=found["candidates"],
        lease_expires_at=dt.datetime.fromisoformat(found["lease_expires_at"]))


def _task_next_orm(
    *, annotator: AbstractBaseUser, campaign: Campaign, exclude: list[int], now: dt.datetime
) -> LeasedTask | None:
    """task_next's ORM path, inside its transaction and annotator lock."""
    # One read of the annotator's live leases answers both "do they hold one?" and
    # "may they take another?".
    live = leases_live(annotator=annotator, campaign=campaign, now=now)
    held = [lease for lease in live if lease.task_id not in exclude]
    if held:
        return _leased_task(task=held[0].task, expires_at=held[0].expires_at)
    if len(live) >= MAX_LEASES_PER_ANNOTATOR:
        return None
    tried: list[int] = []
    for _ in range(MAX_LEASE_ATTEMPTS):
        candidates = tasks_available(annotator=annotator, campaign=campaign, now=now).exclude(
            pk__in=exclude + tried
        )
        # Abandoned tasks first, as the PostgreSQL pick does.
        task_id = _first_unlocked(tasks_abandoned(candidates, now=now))
        if task_id is None:
            task_id = _first_unlocked(candidates)
        if task_id is None:
            return None
        task = Task.objects.select_related("campaign", "anchor").get(pk=task_id)
        # Re-read under the row lock: in READ COMMITTED our first SELECT may predate a lease
        # that another annotator committed on this row just before we locked it.
        if task.status == Task.Status.OPEN and task_slots_free(
            task=task, exclude_annotator=annotator, now=now
        ) > 0:
            lease = _lease_create(task=task, annotator=annotator, now=now)
            return _leased_task(task=task, expires_at=lease.expires_at)
        tried.append(task_id)
    return None


def _existing_answer(
    *, annotator: AbstractBaseUser, task: Task, submission_id: str
) -> Annotation | None:
    """The annotator's earlier answer to this task, or to this submission_id (one query)."""
    same = Q(task=task) | Q(submission_id=submission_id) if submission_id else Q(task=task)
    for found in Annotation.objects.filter(same, annotator=annotator).order_by("pk"):
        if found.task_id != task.pk:
            raise _submission_used(submission_id, used_for=found.task_id, task_id=task.pk)
        return found
    return None


def _submission_used(submission_id: str, *, used_for: int, task_id: int) -> InputError:
    return InputError("submission_id",
                      f"{submission_id!r} was already used for task {used_for}, not {task_id}")


def _outside(task_id: int, outside: Iterable[str]) -> InputError:
    ids = sorted(outside)
    return InputError("selected", f"not candidates of task {task_id}: {', '.join(ids[:5])}")


def _selection(task: Task, selected_ids: list[str]) -> list[Sticker]:
    """The selected stickers, refusing any id that is not one of the task's candidates."""
    wanted = list(dict.fromkeys(selected_ids))
    stickers = list(
        Sticker.objects.filter(
            sticker_id__in=wanted, pk__in=task.candidate_set.candidates.values("sticker")
        )
    )
    outside = set(wanted) - {s.sticker_id for s in stickers}
    if outside:
        raise _outside(task.pk, outside)
    return stickers


def _other_iteration_taken(*, annotator: AbstractBaseUser, task: Task) -> bool:
    """Whether the annotator answered the other iteration of this task's anchor."""
    return Annotation.objects.filter(
        annotator=annotator, task__campaign_id=task.campaign_id, task__anchor_id=task.anchor_id
    ).exclude(task=task).exists()


def _check_may_answer(*, annotator: AbstractBaseUser, task: Task, now: dt.datetime) -> None:
    """Refuses an answer whose lease was lost to another annotator, with a message to show."""
    own = Lease.objects.filter(task=task, annotator=annotator, expires_at__gt=now).exists()
    if own:
        return
    if task.status == Task.Status.DONE or task_slots_free(
        task=task, exclude_annotator=annotator, now=now
    ) <= 0:
        raise InputError(f"task {task.pk}", LEASE_LOST)
    if _other_iteration_taken(annotator=annotator, task=task):
        raise InputError(f"task {task.pk}", OTHER_ITERATION)


def _checked_duration(submission_id: str, duration_ms: int | None) -> int | None:
    """Checks an answer's submission_id; returns its duration (negative clamps to 0)."""
    if len(submission_id) > 64:
        raise InputError("submission_id", "at most 64 characters")
    return max(0, int(duration_ms)) if duration_ms is not None else None


def task_submit(
    *,
    annotator: AbstractBaseUser,
    task_id: int,
    selected_ids: list[str],
    submission_id: str = "",
    duration_ms: int | None = None,
) -> Submitted:
    """Stores the annotator's selection for the task (empty = "none are similar").

    Idempotent: a repeat with the same ``submission_id``, or any second answer by the same
    annotator to the same task, stores nothing and returns the first answer. Marks the task
    done once it has ``campaign.annotators_per_task`` answers and releases the lease. Raises
    ``Task.DoesNotExist`` for an unknown task, InputError for a refused answer.
    """
    duration = _checked_duration(submission_id, duration_ms)
    now = timezone.now()
    if _on_postgresql():
        return _task_submit_pg(annotator=annotator, task_id=task_id, selected_ids=selected_ids,
                               submission_id=submission_id, duration_ms=duration, now=now)
    with transaction.atomic():
        _lock_annotator(annotator)
        # Same lock as task_next takes: no lease can be granted on this task while we count.
        # OF the task row only: locking the joined campaign row would serialize every submit.
        task = _lock_of_self(Task.objects.select_related("campaign", "candidate_set")).get(
            pk=task_id
        )
        existing = _existing_answer(annotator=annotator, task=task, submission_id=submission_id)
        if existing is not None:
            return Submitted(existing, created=False)
        stickers = _selection(task, selected_ids)
        _check_may_answer(annotator=annotator, task=task, now=now)
        # No savepoint around the insert: the annotator row lock taken above serializes this
        # annotator's submits, so the (task, annotator) unique constraint cannot race here.
        annotation = Annotation.objects.create(
            task=task, annotator=annotator, submission_id=submission_id, duration_ms=duration,
        )
        Annotation.selected.through.objects.bulk_create(
            Annotation.selected.through(annotation=annotation, sticker=s) for s in stickers
        )
        Lease.objects.filter(task=task, annotator=annotator).delete()
        # Done once the rows say so; one UPDATE with the count inside saves a round trip.
        Task.objects.filter(pk=task.pk).alias(
            answers=count_subquery(Annotation.objects.filter(task=OuterRef("pk")))
        ).filter(answers__gte=task.campaign.annotators_per_task).update(status=Task.Status.DONE)
        return Submitted(annotation, created=True,
                         selected_ids=[s.sticker_id for s in _in_rank_order(task, stickers)])


def _in_rank_order(task: Task, stickers: list[Sticker]) -> list[Sticker]:
    ranks = dict(task.candidate_set.candidates.values_list("sticker_id", "rank"))
    return sorted(stickers, key=lambda s: ranks[s.pk])


def _task_submit_pg(
    *, annotator: AbstractBaseUser, task_id: int, selected_ids: list[str], submission_id: str,
    duration_ms: int | None, now: dt.datetime,
) -> Submitted:
    """task_submit on PostgreSQL: one function call checks and stores; refusals become errors."""
    return _submitted_pg(tasks_pg.task_submit(
        user_id=annotator.pk, task_id=task_id, selected_ids=list(dict.fromkeys(selected_ids)),
        submission_id=submission_id, duration_ms=duration_ms, now=now),
        annotator=annotator, task_id=task_id, submission_id=submission_id,
        duration_ms=duration_ms, now=now)


def _submitted_pg(
    result: dict | str, *, annotator: AbstractBaseUser, task_id: int, submission_id: str,
    duration_ms: int | None, now: dt.datetime,
) -> Submitted:
    """``annotation_task_submit``'s answer as task_submit returns it (refusals raise)."""
    result = _decoded(result)
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
        raise _submission_used(submission_id, used_for=result["task"], task_id=task_id)
    if status == "outside":
        raise _outside(task_id, result["ids"])
    raise InputError(f"task {task_id}", LEASE_LOST if status == "lease_lost" else OTHER_ITERATION)


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
    """Stores the answer, then leases the annotator's next task in the campaign: one request
    per task instead of two for a client that asks for the next task after every answer.

    Two steps, each with its own guarantees: a refused answer raises before anything is
    leased; an unknown campaign raises ``Campaign.DoesNotExist`` after the answer is stored.
    On PostgreSQL both run in one database call (migration 0003).
    """
    if _on_postgresql():
        duration = _checked_duration(submission_id, duration_ms)
        now = timezone.now()
        found = _decoded(tasks_pg.task_submit_next(
            user_id=annotator.pk, task_id=task_id,
            selected_ids=list(dict.fromkeys(selected_ids)), submission_id=submission_id,
            duration_ms=duration, now=now, campaign_name=campaign_name,
            exclude=list(exclude_task_ids), max_leases=MAX_LEASES_PER_ANNOTATOR,
            attempts=MAX_LEASE_ATTEMPTS))
        submitted = _submitted_pg(found["submitted"], annotator=annotator, task_id=task_id,
                                  submission_id=submission_id, duration_ms=duration, now=now)
        return submitted, _leased_task_pg(found["next"], campaign_name)
    submitted = task_submit(annotator=annotator, task_id=task_id, selected_ids=selected_ids,
                            submission_id=submission_id, duration_ms=duration_ms)
    leased = task_next(annotator=annotator, campaign_name=campaign_name,
                       exclude_task_ids=exclude_task_ids)
    return submitted, leased


def task_skip(*, annotator: AbstractBaseUser, task_id: int) -> Skip:
    """"I can't judge": records a Skip, frees the annotator's lease; the task goes back to the
    pool for the other annotators and counts for nothing. Skipping twice stores one Skip.
    Raises ``Task.DoesNotExist`` for an unknown task."""
    with transaction.atomic():
        _lock_annotator(annotator)
        task = Task.objects.get(pk=task_id)
        if Annotation.objects.filter(task=task, annotator=annotator).exists():
            raise InputError(f"task {task.pk}", "you already answered this task")
        if Lease.objects.filter(task=task, annotator=annotator).delete()[0]:
            # A slot is free again: clear the pick's hint (models.Task.held_until).
            Task.objects.filter(pk=task.pk).update(held_until=None)
        skip = Skip.objects.filter(task=task, annotator=annotator).first()
        if skip is None:
            skip = Skip.objects.create(task=task, annotator=annotator)
        return skip
