"""Task assignment and answers: lease the next task, submit a selection, skip (paper 001, 3.2).

Concurrency lives in the database, not in Python memory:
- each service runs in one transaction and first locks the annotator's user row, so one
  annotator's parallel requests (two tabs, a retried POST) run one after the other;
- ``task_next`` takes the candidate task row with ``SELECT ... FOR UPDATE SKIP LOCKED`` on
  PostgreSQL, so two annotators never wait on, nor get, the same row; every write that adds a
  lease or an answer to a task holds that task's row lock, so a count re-read under the lock
  is the truth (Label Studio #795: two people given the same task).
SQLite has no row locks; there the same code is correct for one process (writes are serialized
by SQLite's database lock), which is what the laptop demo needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from annotation.errors import InputError
from annotation.models import Annotation, Campaign, Lease, Skip, Sticker, Task
from annotation.selectors import count_subquery, leases_live, task_slots_free, tasks_available
from annotation.services import tasks_pg

# Rows tried per task_next call before giving up: each try is one locked row whose counts went
# stale between our snapshot and our lock (another annotator's lease committed in between).
MAX_LEASE_ATTEMPTS = 8
# Live leases one annotator may hold in a campaign: the task on screen plus the one fetched
# ahead. More would let one client hoard tasks.
MAX_LEASES_PER_ANNOTATOR = 2


@dataclass(frozen=True)
class Submitted:
    """The stored answer and whether this call stored it (False: a repeat of an earlier one)."""

    annotation: Annotation
    created: bool
    # The selection's sticker ids in rank order when this call already read them (saves the
    # API a query); None: read them with selectors.annotation_selected_ids.
    selected_ids: list[str] | None = None


def _on_postgresql() -> bool:
    """Whether the hand-written hot-path statements (``tasks_pg``) apply."""
    return connection.vendor == "postgresql"


def _task_loaded(*, task_id: int, annotator: AbstractBaseUser) -> Task:
    """The task with campaign and anchor, and ``lease_expires_at`` (the annotator's lease)."""
    expiry = Lease.objects.filter(task=OuterRef("pk"), annotator=annotator).values("expires_at")
    return (
        Task.objects.select_related("campaign", "anchor")
        .annotate(lease_expires_at=Subquery(expiry[:1]))
        .get(pk=task_id)
    )


def _lock_annotator(annotator: AbstractBaseUser) -> None:
    """Serializes one annotator's requests: the per-annotator checks below read then write."""
    if _on_postgresql():
        tasks_pg.annotator_lock(user_id=annotator.pk)  # same lock, without the ORM's compile
        return
    get_user_model().objects.select_for_update().filter(pk=annotator.pk).exists()


def _skip_locked(queryset: QuerySet[Task]) -> QuerySet[Task]:
    """FOR UPDATE SKIP LOCKED OF the task rows where the database has it (PostgreSQL)."""
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True, of=("self",))
    return queryset


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
    *, annotator: AbstractBaseUser, campaign: Campaign, exclude_task_ids: Iterable[int] = ()
) -> Task | None:
    """Leases the next task to the annotator, or returns the one they already hold.

    A live lease the annotator holds (not in ``exclude_task_ids``) comes back first, so a page
    refresh or a retried request never takes a second task. ``exclude_task_ids`` is how the page
    fetches ahead: "the next one after the task on my screen". Returns None when nothing is left
    for this annotator (or they already hold ``MAX_LEASES_PER_ANNOTATOR`` leases).
    """
    exclude = list(exclude_task_ids)
    with transaction.atomic():
        _lock_annotator(annotator)
        now = timezone.now()
        # One read of the annotator's live leases answers both "do they hold one?" and
        # "may they take another?".
        live = leases_live(annotator=annotator, campaign=campaign, now=now)
        held = [lease for lease in live if lease.task_id not in exclude]
        if held:
            task = held[0].task
            task.lease_expires_at = held[0].expires_at
            return task
        if len(live) >= MAX_LEASES_PER_ANNOTATOR:
            return None
        if _on_postgresql():
            task_id = tasks_pg.task_pick_and_lease(
                user_id=annotator.pk, campaign=campaign, exclude=exclude, now=now,
                attempts=MAX_LEASE_ATTEMPTS)
            return None if task_id is None else _task_loaded(task_id=task_id,
                                                             annotator=annotator)
        tried: list[int] = []
        for _ in range(MAX_LEASE_ATTEMPTS):
            candidates = tasks_available(annotator=annotator, campaign=campaign, now=now).exclude(
                pk__in=exclude + tried
            )
            task_id = _skip_locked(candidates).values_list("pk", flat=True).first()
            if task_id is None:
                return None
            task = Task.objects.select_related("campaign", "anchor").get(pk=task_id)
            # Re-read under the row lock: in READ COMMITTED our first SELECT may predate a lease
            # that another annotator committed on this row just before we locked it.
            if task.status == Task.Status.OPEN and task_slots_free(
                task=task, exclude_annotator=annotator, now=now
            ) > 0:
                _lease_create(task=task, annotator=annotator, now=now)
                return task
            tried.append(task_id)
        return None


def _existing_answer(
    *, annotator: AbstractBaseUser, task: Task, submission_id: str
) -> Annotation | None:
    """The annotator's earlier answer to this task, or to this submission_id (one query)."""
    same = Q(task=task) | Q(submission_id=submission_id) if submission_id else Q(task=task)
    for found in Annotation.objects.filter(same, annotator=annotator).order_by("pk"):
        if found.task_id != task.pk:
            raise InputError(
                "submission_id",
                f"{submission_id!r} was already used for task {found.task_id}, not {task.pk}",
            )
        return found
    return None


def _selection(task: Task, selected_ids: list[str]) -> list[Sticker]:
    """The selected stickers, refusing any id that is not one of the task's candidates."""
    wanted = list(dict.fromkeys(selected_ids))
    stickers = list(
        Sticker.objects.filter(
            sticker_id__in=wanted, pk__in=task.candidate_set.candidates.values("sticker")
        )
    )
    outside = sorted(set(wanted) - {s.sticker_id for s in stickers})
    if outside:
        raise InputError(
            "selected", f"not candidates of task {task.pk}: {', '.join(outside[:5])}"
        )
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
    lost = f"task {task.pk}"
    if task.status == Task.Status.DONE or task_slots_free(
        task=task, exclude_annotator=annotator, now=now
    ) <= 0:
        raise InputError(
            lost,
            "your lease on this task expired and another annotator has taken it; "
            "your answer was not stored, please go on with the next task",
        )
    if _other_iteration_taken(annotator=annotator, task=task):
        raise InputError(lost, "you already judged this anchor in the other iteration")


def task_submit(
    *,
    annotator: AbstractBaseUser,
    task: Task,
    selected_ids: list[str],
    submission_id: str = "",
    duration_ms: int | None = None,
) -> Submitted:
    """Stores the annotator's selection for the task (empty = "none are similar").

    Idempotent: a repeat with the same ``submission_id``, or any second answer by the same
    annotator to the same task, stores nothing and returns the first answer. Marks the task
    done once it has ``campaign.annotators_per_task`` answers and releases the lease.
    """
    if len(submission_id) > 64:
        raise InputError("submission_id", "at most 64 characters")
    with transaction.atomic():
        _lock_annotator(annotator)
        existing = _existing_answer(annotator=annotator, task=task, submission_id=submission_id)
        if existing is not None:
            return Submitted(existing, created=False)
        if _on_postgresql():
            return _task_submit_pg(annotator=annotator, task=task, selected_ids=selected_ids,
                                   submission_id=submission_id, duration_ms=duration_ms)
        # Same lock as task_next takes: no lease can be granted on this task while we count.
        # OF the task row only: locking the joined campaign row would serialize every submit.
        task = _lock_of_self(Task.objects.select_related("campaign", "candidate_set")).get(
            pk=task.pk
        )
        stickers = _selection(task, selected_ids)
        now = timezone.now()
        _check_may_answer(annotator=annotator, task=task, now=now)
        # No savepoint around the insert: the annotator row lock taken above serializes this
        # annotator's submits, so the (task, annotator) unique constraint cannot race here.
        annotation = Annotation.objects.create(
            task=task, annotator=annotator, submission_id=submission_id,
            duration_ms=max(0, int(duration_ms)) if duration_ms is not None else None,
        )
        Annotation.selected.through.objects.bulk_create(
            Annotation.selected.through(annotation=annotation, sticker=s) for s in stickers
        )
        Lease.objects.filter(task=task, annotator=annotator).delete()
        # Done once the rows say so; one UPDATE with the count inside saves a round trip.
        Task.objects.filter(pk=task.pk).alias(
            answers=count_subquery(Annotation.objects.filter(task=OuterRef("pk")))
        ).filter(answers__gte=task.campaign.annotators_per_task).update(status=Task.Status.DONE)
        return Submitted(annotation, created=True)


def _task_submit_pg(
    *, annotator: AbstractBaseUser, task: Task, selected_ids: list[str], submission_id: str,
    duration_ms: int | None,
) -> Submitted:
    """task_submit's write on PostgreSQL: lock, check, store in three statements.

    Runs inside task_submit's transaction, after the annotator's row lock and the repeat check.
    """
    now = timezone.now()
    status, per_task, set_id, holds_lease = tasks_pg.task_lock_for_answer(
        user_id=annotator.pk, task_id=task.pk, now=now)
    wanted = list(dict.fromkeys(selected_ids))
    found = tasks_pg.task_selection(candidate_set_id=set_id, wanted=wanted)
    outside = sorted(set(wanted) - {sticker_id for _, sticker_id in found})
    if outside:
        raise InputError(
            "selected", f"not candidates of task {task.pk}: {', '.join(outside[:5])}")
    if not holds_lease:  # rare: the lease expired; the ORM check says whether it was lost
        locked = Task.objects.select_related("campaign").get(pk=task.pk)
        _check_may_answer(annotator=annotator, task=locked, now=now)
    duration = max(0, int(duration_ms)) if duration_ms is not None else None
    annotation_id = tasks_pg.annotation_store(
        user_id=annotator.pk, task_id=task.pk, per_task=per_task,
        sticker_pks=[pk for pk, _ in found], submission_id=submission_id,
        duration_ms=duration, now=now)
    annotation = Annotation(pk=annotation_id, task_id=task.pk, annotator=annotator,
                            duration_ms=duration, submission_id=submission_id, created_at=now)
    return Submitted(annotation, created=True,
                     selected_ids=[sticker_id for _, sticker_id in found])


def task_skip(*, annotator: AbstractBaseUser, task: Task) -> Skip:
    """"I can't judge": records a Skip, frees the annotator's lease; the task goes back to the
    pool for the other annotators and counts for nothing. Skipping twice stores one Skip."""
    with transaction.atomic():
        _lock_annotator(annotator)
        if Annotation.objects.filter(task=task, annotator=annotator).exists():
            raise InputError(f"task {task.pk}", "you already answered this task")
        Lease.objects.filter(task=task, annotator=annotator).delete()
        skip = Skip.objects.filter(task=task, annotator=annotator).first()
        if skip is None:
            skip = Skip.objects.create(task=task, annotator=annotator)
        return skip
