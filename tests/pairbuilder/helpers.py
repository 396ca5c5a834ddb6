"""Small builders for pair-builder tests: stickers without files, tasks, annotations, queries."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from django.contrib.auth import get_user_model

from annotation.models import (
    Annotation,
    Campaign,
    Candidate,
    CandidateSet,
    Query,
    Skip,
    Sticker,
    Task,
)
from annotation.queries_text import queries_split, query_normalize


def stickers_make(names: Iterable[str]) -> dict[str, Sticker]:
    """Sticker rows for file names (no files: the real images are not available)."""
    rows = [Sticker(sticker_id=n, file=f"stickers/{n}", still=f"stills/{n}.png",
                    media_type=_media_type(n), content_hash=hashlib.sha256(n.encode()).hexdigest(),
                    size_bytes=1, width=1, height=1) for n in names]
    Sticker.objects.bulk_create(rows, ignore_conflicts=True)
    return {s.sticker_id: s for s in Sticker.objects.filter(sticker_id__in=[r.sticker_id
                                                                         for r in rows])}


def _media_type(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower()
    return {"jpg": "jpeg", "gif": "gif", "webp": "webp", "webm": "webm"}.get(ext, "png")


def user_make(name: str, *, staff: bool = False):
    return get_user_model().objects.create_user(username=name, password="pw", is_staff=staff,
                                                is_superuser=staff)


def task_make(campaign: Campaign, anchor: Sticker, candidates: Sequence[Sticker],
              iteration: int = 1) -> Task:
    cs = CandidateSet.objects.create(campaign=campaign, anchor=anchor, iteration=iteration,
                                     retrieval_view=CandidateSet.RetrievalView.IMAGE)
    Candidate.objects.bulk_create([Candidate(candidate_set=cs, sticker=s, rank=r)
                                   for r, s in enumerate(candidates, start=1)])
    return Task.objects.create(candidate_set=cs, campaign=campaign, anchor=anchor,
                               iteration=iteration)


def annotate(task: Task, annotator, selected: Sequence[Sticker] = ()) -> Annotation:
    annotation = Annotation.objects.create(task=task, annotator=annotator)
    annotation.selected.set(selected)
    return annotation


def skip(task: Task, annotator) -> Skip:
    return Skip.objects.create(task=task, annotator=annotator)


def queries_add(sticker: Sticker, field: str, language: str = "en") -> None:
    """Queries as the importer stores them (same normalisation), deduplicated."""
    seen = set(Query.objects.filter(sticker=sticker, language=language)
               .values_list("normalized", flat=True))
    rows = []
    for text in queries_split(field):
        n = query_normalize(text)
        if n and n not in seen:
            seen.add(n)
            rows.append(Query(sticker=sticker, text=text, normalized=n, language=language))
    Query.objects.bulk_create(rows)
