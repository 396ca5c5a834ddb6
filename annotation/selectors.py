"""Reads of the annotation app: what an annotator has left, progress, campaign stats.

Every count is a query on the rows themselves (no cached tallies: SPEC.md, Label Studio #7902).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.files.storage import FileSystemStorage, Storage
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from annotation.models import Annotation, Campaign, Candidate, Sticker, Task
from annotation.stats import campaign_stats  # noqa: F401  (the API's and the page's import)

ANNOTATORS_GROUP = "annotators"


def annotators_group() -> Group:
    """The "annotators" group; created on first use so a fresh database needs no setup step."""
    group, _ = Group.objects.get_or_create(name=ANNOTATORS_GROUP)
    return group


def user_is_annotator(*, user: AbstractBaseUser) -> bool:
    """Staff, or a member of the "annotators" group.

    Token auth (``annotation.authentication``) reads the membership with the token and sets
    ``in_annotators_group`` on the user, which saves the hot API paths one query.
    """
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff:
        return True
    known = getattr(user, "in_annotators_group", None)
    if known is not None:
        return bool(known)
    return user.groups.filter(name=ANNOTATORS_GROUP).exists()


def tasks_left(*, annotator: AbstractBaseUser, campaign: Campaign) -> int:
    """Anchors of the campaign the annotator could still take: the rule ``task_next`` applies
    (``annotation_task_open_to`` in ``annotation/sql/``), one per anchor."""
    with connection.cursor() as cur:
        cur.execute("SELECT annotation_tasks_left(%s, %s, %s)",
                    [annotator.pk, campaign.pk, timezone.now()])
        return cur.fetchone()[0]


def sticker_file_url(name: str) -> str:
    """The URL of a sticker file by its storage name.

    On the file system storage the URL is a pure function of the name and ``MEDIA_URL``, so
    it is cached: a next-task response has 21 of them, and ``urljoin`` is a tenth of the
    call's CPU. Other storages (signed, expiring URLs) are asked every time.
    """
    storage = Sticker._meta.get_field("file").storage
    if isinstance(storage, FileSystemStorage):
        return _file_system_url(storage, storage.base_url, name)
    return storage.url(name)


# Keyed by base_url too, so a changed MEDIA_URL (tests' override_settings) never serves a stale
# URL. 50,000 entries of ~200 bytes: about 10 MB per worker process at most.
@lru_cache(maxsize=50_000)
def _file_system_url(storage: Storage, base_url: str, name: str) -> str:
    return storage.url(name)


def task_candidate_rows(*, task: Task) -> list[dict]:
    """The task's candidates by rank as plain dicts (``rank``, ``sticker_id``, ``file``,
    ``media_type``, ``is_animated``, ``width``, ``height``: the shape of the PostgreSQL
    function's payload), in one query: the next-task response needs no model instances."""
    rows = (
        Candidate.objects.filter(candidate_set_id=task.candidate_set_id)
        .order_by("rank")
        .values_list("rank", "sticker__sticker_id", "sticker__file", "sticker__media_type",
                     "sticker__is_animated", "sticker__width", "sticker__height")
    )
    keys = ("rank", "sticker_id", "file", "media_type", "is_animated", "width", "height")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def annotator_progress(*, annotator: AbstractBaseUser, campaign: Campaign) -> dict[str, int]:
    """What the annotator page shows: done today (all campaigns and this one), what is left.

    ``left_for_me``: tasks this annotator could still take (one per anchor);
    ``left_in_campaign``: answers the campaign still needs (target minus answers, open tasks).
    """
    today = timezone.localdate()
    start = timezone.make_aware(dt.datetime.combine(today, dt.time.min))
    mine = Annotation.objects.filter(annotator=annotator)
    open_tasks = Task.objects.filter(campaign=campaign, status=Task.Status.OPEN)
    needed = open_tasks.count() * campaign.annotators_per_task
    answered_open = Annotation.objects.filter(task__in=open_tasks).count()
    return {
        "done_today": mine.filter(created_at__gte=start).count(),
        "done_today_in_campaign": mine.filter(created_at__gte=start,
                                              task__campaign=campaign).count(),
        "done_in_campaign": mine.filter(task__campaign=campaign).count(),
        # One task per anchor at most: the two iterations go to different annotators.
        "left_for_me": tasks_left(annotator=annotator, campaign=campaign),
        "left_in_campaign": needed - answered_open,
    }


def campaigns_for_user(*, user: AbstractBaseUser) -> list[dict]:
    """Campaigns with their open and done task counts, for the campaign picker."""
    rows = Campaign.objects.annotate(
        tasks_total=Count("tasks", distinct=True),
        tasks_done=Count("tasks", filter=Q(tasks__status=Task.Status.DONE), distinct=True),
    ).order_by("-created_at", "name")
    return [
        {"name": c.name, "description": c.description, "tasks_total": c.tasks_total,
         "tasks_done": c.tasks_done}
        for c in rows
    ]


def annotation_selected_ids(*, annotation: Annotation) -> list[str]:
    """The selected stickers' ids (file names), in candidate rank order, in one query."""
    return list(
        Candidate.objects.filter(
            candidate_set__task=annotation.task_id,
            sticker__in=annotation.selected.through.objects.filter(
                annotation_id=annotation.pk).values("sticker_id"),
        ).order_by("rank").values_list("sticker__sticker_id", flat=True)
    )


def annotations_selected_ids(*, annotations: list[Annotation]) -> dict[int, list[str]]:
    """``annotation_selected_ids`` for many answers in two queries, whatever their number
    (one per answer made a list of 200 answers 200 round trips)."""
    chosen: dict[int, set[int]] = {a.pk: set() for a in annotations}
    for annotation_id, sticker_id in Annotation.selected.through.objects.filter(
            annotation_id__in=list(chosen)).values_list("annotation_id", "sticker_id"):
        chosen[annotation_id].add(sticker_id)
    ranked: dict[int, list[tuple[int, int, str]]] = {}  # task -> (rank, sticker pk, id)
    for task_id, rank, pk, name in Candidate.objects.filter(
            candidate_set__task__in={a.task_id for a in annotations}).values_list(
                "candidate_set__task", "rank", "sticker_id", "sticker__sticker_id"):
        ranked.setdefault(task_id, []).append((rank, pk, name))
    return {a.pk: [name for _, pk, name in sorted(ranked.get(a.task_id, []))
                   if pk in chosen[a.pk]] for a in annotations}
