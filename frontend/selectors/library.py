"""Reads for the library browser: a search over the stickers and everything known about one
sticker (queries, candidate sets, pairs with their evidence, nearest neighbours).

Nearest neighbours read the stored embeddings with NumPy, never torch: a page view must not
load a model. The scan is linear in the version's stickers (about 40 ms per 100k stickers of
512 floats), in pages of ``NEIGHBOUR_PAGE`` rows so memory stays flat.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from annotation.models import Annotation, Candidate, CandidateSet, Query, Sticker, Task
from annotation.queries_text import query_normalize
from annotation.selectors import sticker_file_url
from encoder.models import EncoderVersion, StickerEmbedding
from pairbuilder.models import Pair, PairReview

NEIGHBOURS = 8  # per encoder version on the sticker page
PAIRS_SHOWN = 50  # pairs on the sticker page, positives first; the page says how many more
SETS_SHOWN = 20  # candidate sets on the sticker page, anchors and answered ones first
NEIGHBOUR_PAGE = 5_000  # embeddings read per query: 5,000 x 512 float32 = 10 MB at a time
RETRIEVAL_LABELS = {
    CandidateSet.RetrievalView.IMAGE: "image embeddings",
    CandidateSet.RetrievalView.TEXT_QUERY: "text-query embeddings",
    CandidateSet.RetrievalView.NEXT_PAGE: "candidates ranked 21-40",
    CandidateSet.RetrievalView.IMPORTED: "imported",
}
MEDIA_LABELS = {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "webp": "WebP", "webm": "WebM video"}


@dataclass(frozen=True)
class LibraryFilter:
    """What the library page was asked for; every field optional."""

    text: str = ""  # part of the file name or of a query
    language: str = ""  # stickers with a query in this language
    media_type: str = ""  # Sticker.MediaType value
    has_queries: str = ""  # "yes", "no" or "" (either)


def library_languages() -> list[str]:
    """The languages of the library's queries, for the filter's choices."""
    return sorted(Query.objects.values_list("language", flat=True).distinct())


def library_search(*, filters: LibraryFilter) -> QuerySet[Sticker]:
    """Stickers matching ``filters``, by file name, with their number of queries.

    Query conditions are ``EXISTS`` subqueries, not joins: a sticker with many matching
    queries comes back once, without a DISTINCT over the whole library.
    """
    rows = Sticker.objects.all()
    text = filters.text.strip()
    if text:
        matching = Query.objects.filter(sticker=OuterRef("pk"),
                                        normalized__contains=query_normalize(text))
        rows = rows.filter(Q(sticker_id__icontains=text) | Q(Exists(matching)))
    if filters.language:
        rows = rows.filter(Exists(Query.objects.filter(sticker=OuterRef("pk"),
                                                       language=filters.language)))
    if filters.media_type:
        rows = rows.filter(media_type=filters.media_type)
    any_query = Exists(Query.objects.filter(sticker=OuterRef("pk")))
    if filters.has_queries == "yes":
        rows = rows.filter(any_query)
    elif filters.has_queries == "no":
        rows = rows.exclude(any_query)
    return rows.annotate(query_count=Count("queries")).order_by("sticker_id")


def sticker_card(sticker: Sticker) -> dict[str, Any]:
    """What a page needs to draw one sticker: its URL, type and size."""
    return {"id": sticker.pk, "sticker_id": sticker.sticker_id, "url": sticker_file_url(
        sticker.file.name), "media_type": sticker.media_type, "width": sticker.width,
        "height": sticker.height, "is_animated": sticker.is_animated,
        "media_label": MEDIA_LABELS.get(sticker.media_type, sticker.media_type)}


def sticker_queries(*, sticker: Sticker) -> list[dict[str, Any]]:
    """The sticker's queries grouped by language, then source, each list in text order."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for language, source, text in (Query.objects.filter(sticker=sticker)
                                   .order_by("language", "source", "text")
                                   .values_list("language", "source", "text")):
        groups[(language, source)].append(text)
    source_labels = dict(Query.Source.choices)
    return [{"language": lang, "source": source_labels.get(src, src), "queries": texts}
            for (lang, src), texts in groups.items()]


def sticker_candidate_sets(*, sticker: Sticker, limit: int = SETS_SHOWN) -> dict[str, Any]:
    """The candidate sets the sticker was in, as anchor or candidate (anchors first, then the
    answered ones, then by campaign and iteration; ``limit`` of ``total``): the campaign, the
    iteration, its rank, how the set was retrieved, and how many answers judged it similar."""
    as_anchor = list(CandidateSet.objects.filter(anchor=sticker).values_list("pk", flat=True))
    total = len(as_anchor) + Candidate.objects.filter(sticker=sticker).count()
    answered = Exists(Annotation.objects.filter(task__candidate_set=OuterRef("candidate_set")))
    as_candidate = dict(Candidate.objects.filter(sticker=sticker).annotate(answered=answered)
                        .order_by("-answered", "candidate_set__campaign__name",
                                  "candidate_set__iteration", "candidate_set")
                        .values_list("candidate_set", "rank")[:max(0, limit - len(as_anchor))])
    order = {pk: i for i, pk in enumerate([*as_anchor, *as_candidate])}
    sets = sorted(CandidateSet.objects.filter(pk__in=order).select_related("campaign", "anchor"),
                  key=lambda cs: order[cs.pk])
    sets = sets[:limit]
    answers = dict(Annotation.objects.filter(task__candidate_set__in=sets)
                   .values_list("task__candidate_set").annotate(n=Count("pk")))
    chosen = dict(Annotation.objects.filter(task__candidate_set__in=sets, selected=sticker)
                  .values_list("task__candidate_set").annotate(n=Count("pk")))
    status = dict(Task.objects.filter(candidate_set__in=sets)
                  .values_list("candidate_set", "status"))
    rows = []
    for cs in sets:
        rank = as_candidate.get(cs.pk)
        rows.append({
            "campaign": cs.campaign.name, "iteration": cs.iteration,
            "role": "anchor" if rank is None else f"candidate #{rank}",
            "anchor": None if rank is None else sticker_card(cs.anchor),
            "retrieval": RETRIEVAL_LABELS.get(cs.retrieval_view, cs.retrieval_view),
            "answers": answers.get(cs.pk, 0),
            "selected_by": None if rank is None else chosen.get(cs.pk, 0),
            "done": status.get(cs.pk) == Task.Status.DONE,
        })
    return {"rows": rows, "total": total}


def sticker_pairs(*, sticker: Sticker, limit: int = PAIRS_SHOWN) -> dict[str, Any]:
    """The sticker's extracted pairs in every build (newest build first, positives first;
    ``limit`` of ``total``) with their evidence and the curator's decision on that (pair,
    label), if any."""
    rows_qs = Pair.objects.filter(Q(sticker_a=sticker) | Q(sticker_b=sticker))
    pairs = list(rows_qs.select_related("build__campaign", "sticker_a", "sticker_b")
                 .order_by("-build_id", "-label", "sticker_a__sticker_id",
                           "sticker_b__sticker_id")[:limit])
    reviews = {(r.campaign_id, r.sticker_a_id, r.sticker_b_id, r.label): r.decision
               for r in PairReview.objects.filter(Q(sticker_a=sticker) | Q(sticker_b=sticker))}
    decision_labels = {PairReview.Decision.ACCEPT: "accepted",
                       PairReview.Decision.REJECT: "rejected"}
    rows = []
    for p in pairs:
        other = p.sticker_b if p.sticker_a_id == sticker.pk else p.sticker_a
        decision = reviews.get((p.build.campaign_id, p.sticker_a_id, p.sticker_b_id, p.label))
        rows.append({
            "other": sticker_card(other), "label": "positive" if p.label == 1 else "negative",
            "campaign": p.build.campaign.name, "build": p.build_id,
            "co_selected": p.co_selected, "co_displayed": p.co_displayed,
            "query_overlap": p.query_overlap,
            "text_cosine": None if p.text_cosine is None else round(p.text_cosine, 3),
            "review": decision_labels.get(decision, "not reviewed"),
        })
    return {"rows": rows, "total": rows_qs.count(),
            "positives": rows_qs.filter(label=1).count()}


def _top_k(query: np.ndarray, pages, k: int, exclude: int) -> list[tuple[float, int]]:
    """The k highest cosines of ``query`` over (sticker pk, vector bytes) pages."""
    best_scores = np.empty(0, np.float32)
    best_ids = np.empty(0, np.int64)
    for page in pages:
        ids = np.fromiter((pk for pk, _ in page), np.int64, len(page))
        mat = np.frombuffer(b"".join(bytes(v) for _, v in page), "<f4").reshape(len(page), -1)
        norms = np.linalg.norm(mat, axis=1)
        scores = (mat @ query) / np.where(norms > 0, norms, 1)  # (P,)
        scores[ids == exclude] = -np.inf
        best_scores = np.concatenate([best_scores, scores.astype(np.float32)])
        best_ids = np.concatenate([best_ids, ids])
        keep = np.argsort(-best_scores, kind="stable")[:k]
        best_scores, best_ids = best_scores[keep], best_ids[keep]
    return [(float(s), int(i)) for s, i in zip(best_scores, best_ids, strict=True)
            if np.isfinite(s)]


def _pages(encoder_version_id: int, dim: int):
    """The version's embeddings of dimension ``dim``, NEIGHBOUR_PAGE rows at a time."""
    rows = (StickerEmbedding.objects.filter(encoder_version_id=encoder_version_id, dim=dim)
            .order_by("sticker_id"))
    last = -1
    while True:
        page = list(rows.filter(sticker_id__gt=last)
                    .values_list("sticker_id", "vector")[:NEIGHBOUR_PAGE])
        if not page:
            return
        yield page
        last = page[-1][0]


def sticker_neighbours(*, sticker: Sticker, k: int = NEIGHBOURS) -> list[dict[str, Any]]:
    """For each encoder version that embedded the sticker: its k nearest stickers by cosine
    of the stored embeddings (the sticker itself left out)."""
    out = []
    for emb in (StickerEmbedding.objects.filter(sticker=sticker)
                .select_related("encoder_version__snapshot").order_by("encoder_version__version")):
        query = np.frombuffer(bytes(emb.vector), "<f4").astype(np.float32)
        norm = np.linalg.norm(query)
        if norm == 0:
            continue
        top = _top_k(query / norm, _pages(emb.encoder_version_id, emb.dim), k,
                     exclude=sticker.pk)
        stickers = Sticker.objects.in_bulk([pk for _, pk in top])
        version = emb.encoder_version
        kind = "GSE" if version.kind == EncoderVersion.Kind.GSE else "base model"
        out.append({
            "version": version.version, "kind": kind,
            "snapshot": version.snapshot.number if version.snapshot else None,
            "neighbours": [{"sticker": sticker_card(stickers[pk]), "cosine": round(score, 3)}
                           for score, pk in top if pk in stickers],
        })
    return out


def sticker_detail(*, sticker: Sticker) -> dict[str, Any]:
    """Everything the sticker page shows."""
    return {
        "sticker": sticker_card(sticker),
        "queries": sticker_queries(sticker=sticker),
        "candidate_sets": sticker_candidate_sets(sticker=sticker),
        "pairs": sticker_pairs(sticker=sticker),
        "neighbours": sticker_neighbours(sticker=sticker),
    }
