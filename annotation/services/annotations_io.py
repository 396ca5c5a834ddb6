"""Raw annotations in and out as JSON lines, one answer per line.

``{"anchor": "<sticker_id>", "iteration": 1, "candidates": ["<sticker_id>", ...],
"selected": ["<sticker_id>", ...], "skipped": false, "annotator": "<username>"}``

Sticker ids are the stickers' file names. Export lets a lab take its data elsewhere; import
brings answers from an earlier tool and lets the pair builder be checked on known inputs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Count, Max, Prefetch

from annotation.errors import InputError
from annotation.models import (
    Annotation,
    Campaign,
    Candidate,
    CandidateSet,
    Skip,
    Sticker,
    Task,
)
from annotation.selectors import annotators_group
from audit.models import AuditEvent
from audit.services import audit_record

# Tasks loaded per round trip while exporting: each brings ~20 candidates and a few answers,
# so 500 tasks hold about 10k small rows in memory at a time.
EXPORT_CHUNK_TASKS = 500


def annotation_lines(*, campaign: Campaign) -> Iterator[str]:
    """The campaign's answers and skips as JSON lines (with "\\n"), by anchor and iteration."""
    tasks = (
        Task.objects.filter(campaign=campaign)
        .select_related("anchor")
        .order_by("anchor__sticker_id", "iteration", "pk")
        .prefetch_related(
            Prefetch("candidate_set__candidates",
                     queryset=Candidate.objects.select_related("sticker").order_by("rank")),
            Prefetch("annotations",
                     queryset=Annotation.objects.select_related("annotator")
                     .prefetch_related("selected").order_by("annotator__username")),
            Prefetch("skips", queryset=Skip.objects.select_related("annotator").order_by("pk")),
        )
    )
    for task in tasks.iterator(chunk_size=EXPORT_CHUNK_TASKS):
        candidates = [c.sticker.sticker_id for c in task.candidate_set.candidates.all()]
        base = {"anchor": task.anchor.sticker_id, "iteration": task.iteration,
                "candidates": candidates}
        for answer in task.annotations.all():
            chosen = {s.sticker_id for s in answer.selected.all()}
            yield _line(base, [c for c in candidates if c in chosen], False, answer.annotator)
        for skip in task.skips.all():
            yield _line(base, [], True, skip.annotator)


def _line(base: dict, selected: list[str], skipped: bool, annotator: AbstractBaseUser) -> str:
    row = {**base, "selected": selected, "skipped": skipped,
           "annotator": annotator.get_username()}
    return json.dumps(row, ensure_ascii=False) + "\n"


def annotations_export_jsonl(*, campaign: Campaign, out: TextIO,
                             actor: AbstractBaseUser | None = None) -> int:
    """Writes the campaign's answers and skips to ``out``; returns the number of lines."""
    n = 0
    for line in annotation_lines(campaign=campaign):
        out.write(line)
        n += 1
    audit_record(action=AuditEvent.Action.EXPORT, actor=actor, campaign=campaign,
                 target=f"annotations of {campaign.name} to {getattr(out, 'name', 'a stream')}",
                 details={"lines": n})
    return n


@dataclass
class AnnotationImportReport:
    """What an import did; ``rejected`` holds (line number, reason) for each refused line."""

    annotations: int = 0
    skips: int = 0
    already_present: int = 0
    created_campaign: bool = False
    rejected: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Row:
    anchor: str
    iteration: int
    candidates: list[str]
    selected: list[str]
    skipped: bool
    annotator: str


def _parse(text: str) -> _Row:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError("line", f"not JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise InputError("line", "not a JSON object")
    for key in ("anchor", "iteration", "candidates", "annotator"):
        if key not in data:
            raise InputError(key, "missing")
    if data["iteration"] not in (1, 2):
        raise InputError("iteration", f"must be 1 or 2, not {data['iteration']!r}")
    candidates, selected = data["candidates"], data.get("selected", [])
    if not isinstance(candidates, list) or not candidates or not isinstance(selected, list):
        raise InputError("candidates", "candidates must be a non-empty list, selected a list")
    if len(set(candidates)) != len(candidates):
        raise InputError("candidates", "a sticker appears twice")
    outside = [s for s in selected if s not in set(candidates)]
    if outside:
        raise InputError("selected", f"not among the candidates: {', '.join(map(str, outside))}")
    annotator = str(data["annotator"]).strip()
    if not annotator:
        raise InputError("annotator", "empty")
    return _Row(str(data["anchor"]), data["iteration"], [str(c) for c in candidates],
                [str(s) for s in selected], bool(data.get("skipped", False)), annotator)


def _stickers(row: _Row) -> dict[str, Sticker]:
    wanted = {row.anchor, *row.candidates}
    found = {s.sticker_id: s for s in Sticker.objects.filter(sticker_id__in=wanted)}
    unknown = sorted(wanted - set(found))
    if unknown:
        raise InputError("sticker", f"unknown sticker(s): {', '.join(unknown[:5])}")
    if row.anchor in row.candidates:
        raise InputError("candidates", "the anchor is one of its own candidates")
    return found


def _task(campaign: Campaign, row: _Row, stickers: dict[str, Sticker]) -> Task:
    """The task for (anchor, iteration), created with its candidate set on first sight."""
    cset, created = CandidateSet.objects.get_or_create(
        campaign=campaign, anchor=stickers[row.anchor], iteration=row.iteration,
        defaults={"retrieval_view": CandidateSet.RetrievalView.IMPORTED},
    )
    if created:
        Candidate.objects.bulk_create(
            Candidate(candidate_set=cset, sticker=stickers[sid], rank=rank)
            for rank, sid in enumerate(row.candidates, start=1)
        )
        return Task.objects.create(candidate_set=cset, campaign=campaign,
                                   anchor=cset.anchor, iteration=row.iteration)
    existing = list(cset.candidates.order_by("rank").values_list("sticker__sticker_id",
                                                                 flat=True))
    if set(existing) != set(row.candidates):
        raise InputError("candidates", "differ from the candidate set an earlier line gave "
                         f"for {row.anchor} iteration {row.iteration}")
    task, _ = Task.objects.get_or_create(candidate_set=cset, defaults={
        "campaign": campaign, "anchor": cset.anchor, "iteration": row.iteration})
    return task


def _annotator(username: str, cache: dict[str, AbstractBaseUser]) -> AbstractBaseUser:
    if username not in cache:
        user, created = get_user_model().objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()  # an imported name, not an account anyone logs in to
            user.save(update_fields=["password"])
            user.groups.add(annotators_group())
        cache[username] = user
    return cache[username]


def _import_row(campaign: Campaign, row: _Row, users: dict, report: AnnotationImportReport):
    stickers = _stickers(row)
    task = _task(campaign, row, stickers)
    user = _annotator(row.annotator, users)
    if row.skipped:
        _, created = Skip.objects.get_or_create(task=task, annotator=user)
        report.skips += int(created)
        report.already_present += int(not created)
        return
    if Annotation.objects.filter(task=task, annotator=user).exists():
        report.already_present += 1
        return
    annotation = Annotation.objects.create(task=task, annotator=user,
                                           submission_id="import")
    annotation.selected.set([stickers[s] for s in row.selected])
    report.annotations += 1


def annotations_import_jsonl(*, campaign_name: str, lines: Iterable[str],
                             actor: AbstractBaseUser | None = None) -> AnnotationImportReport:
    """Imports answers into the campaign (created if missing), line by line.

    A bad line (not JSON, unknown sticker, a selection outside its candidates, candidates that
    contradict an earlier line) is rejected with its number and the rest are kept: each line
    runs in its own savepoint. Re-importing the same file stores nothing twice. Task status is
    recomputed from the stored answers at the end.
    """
    name = campaign_name.strip()
    if not name:
        raise InputError("campaign", "a campaign needs a name")
    report = AnnotationImportReport()
    campaign, report.created_campaign = Campaign.objects.get_or_create(
        name=name, defaults={"description": "imported annotations"})
    users: dict[str, AbstractBaseUser] = {}
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            with transaction.atomic():
                _import_row(campaign, _parse(text), users, report)
        except InputError as exc:
            report.rejected.append((number, str(exc)))
    _statuses_refresh(campaign, raise_target=report.created_campaign)
    audit_record(action=AuditEvent.Action.IMPORT, actor=actor, campaign=campaign,
                 target=f"annotations into {campaign.name}",
                 details={"annotations": report.annotations, "skips": report.skips,
                          "already_present": report.already_present,
                          "rejected": len(report.rejected)})
    return report


@transaction.atomic
def _statuses_refresh(campaign: Campaign, *, raise_target: bool) -> None:
    """Marks tasks done from their answer counts, with the rule every answer goes through
    (``annotation_task_refresh``, ``annotation/sql/``), never from a cached tally.

    A campaign the import created takes as its per-task target the most answers any of its
    tasks has, so overlapping answers from the earlier tool read as overlap, not as extras.
    """
    if raise_target:
        most = (Task.objects.filter(campaign=campaign).annotate(n=Count("annotations"))
                .aggregate(most=Max("n"))["most"])
        campaign.annotators_per_task = max(1, most or 1)
        campaign.save(update_fields=["annotators_per_task"])
    with connection.cursor() as cur:
        cur.execute("SELECT annotation_task_refresh(t.id, %s, now()) FROM annotation_task t "
                    "WHERE t.campaign_id = %s", [campaign.annotators_per_task, campaign.pk])
