"""Candidate sets and annotation tasks: the encoder's retrieval written as what annotators judge.

Candidate sets (paper 001, 3.2): for each anchor and iteration, the ``campaign.candidate_count``
nearest stickers by cosine of their embeddings, excluding the anchor and exact duplicates, plus
one annotation Task per set. Iteration 2 must differ from iteration 1; how is the campaign's
``iteration2_source``:

- ``retrained``: image view under ``campaign.iteration2_encoder_version`` (a GSE trained on the
  iteration-1 pairs; embed with ``stickers_embed`` first).
- ``text_query``: the anchor's query texts through the CLIP text tower (mean of its queries'
  normalised text embeddings) against the candidates' *image* embeddings: the anchor as people
  describe it, not as it looks. An anchor without queries gets the ``next_page`` view instead,
  recorded on its candidate set.
- ``next_page``: image view, ranks 21-40 (``offset = candidate_count``).

Rebuild semantics: building an iteration again *replaces* its candidate sets and tasks while no
one has annotated or skipped any of them, and is refused (:class:`InputError`) once someone has,
so judgements are never silently orphaned.

The retrieval (``encoder.retrieval``, torch) and the text tower are imported inside the
functions that use them: this module is imported by web processes that never build candidates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from django.db import transaction

from annotation.errors import InputError
from annotation.models import (
    Annotation,
    Campaign,
    Candidate,
    CandidateSet,
    Skip,
    Task,
)
from encoder.embedding_services import EmbeddingMatrix, embeddings_load, query_text_vectors
from encoder.models import EncoderVersion

logger = logging.getLogger(__name__)

# Candidate rows per INSERT: 5,000 rows of 4 columns stay well under PostgreSQL's
# parameter limit (65,535) and take ~1 MB of Python objects at a time.
INSERT_BATCH = 5000


def _version_row(version: str, what: str) -> EncoderVersion:
    row = EncoderVersion.objects.filter(version=version).first()
    if row is None:
        raise InputError(what, f"encoder version {version!r} is not registered")
    return row


@dataclass
class _Retrieved:
    """One view's results: anchors are rows of the matrix."""

    anchor_rows: np.ndarray  # (A,)
    indices: np.ndarray  # (A, k) rows of the matrix, -1 padded
    scores: np.ndarray  # (A, k)
    view: str


def _retrieve(campaign: Campaign, iteration: int) -> tuple[EmbeddingMatrix, list[_Retrieved], str]:
    """Runs the retrieval view(s) of one iteration; returns the matrix, results, version."""
    from encoder.retrieval import topk_cosine  # torch: only where candidates are built

    k = campaign.candidate_count
    view = CandidateSet.RetrievalView
    if iteration == 1 or campaign.iteration2_source in ("", Campaign.Iteration2Source.NEXT_PAGE,
                                                        Campaign.Iteration2Source.TEXT_QUERY):
        version = campaign.encoder_version
        if not version:
            raise InputError(f"campaign {campaign.name}", "has no encoder_version")
    else:
        version = campaign.iteration2_encoder_version
        if not version:
            raise InputError(
                f"campaign {campaign.name}",
                "iteration2_source is 'retrained' but iteration2_encoder_version is empty",
            )
    matrix = embeddings_load(encoder_version=version)
    groups = matrix.duplicate_groups()
    rows = np.arange(len(matrix.sticker_ids))
    source = campaign.iteration2_source
    if iteration == 1 or source == Campaign.Iteration2Source.RETRAINED:
        idx, sc = topk_cosine(matrix.vectors, k, duplicate_group=groups)
        return matrix, [_Retrieved(rows, idx, sc, view.IMAGE)], version
    if source == Campaign.Iteration2Source.TEXT_QUERY:
        row = _version_row(version, campaign.name)
        text_vecs, has = query_text_vectors(row, matrix.sticker_ids)
        out = []
        if has.any():
            idx, sc = topk_cosine(matrix.vectors, k, anchors=rows[has],
                                  anchor_vectors=text_vecs[has], duplicate_group=groups)
            out.append(_Retrieved(rows[has], idx, sc, view.TEXT_QUERY))
        if (~has).any():
            idx, sc = topk_cosine(matrix.vectors, k, anchors=rows[~has], duplicate_group=groups,
                                  offset=k)
            out.append(_Retrieved(rows[~has], idx, sc, view.NEXT_PAGE))
        return matrix, out, version
    # next_page (also the default when the campaign names no source)
    idx, sc = topk_cosine(matrix.vectors, k, duplicate_group=groups, offset=k)
    return matrix, [_Retrieved(rows, idx, sc, view.NEXT_PAGE)], version


def _clear_iteration(campaign: Campaign, iteration: int) -> None:
    """Deletes an iteration's candidate sets and tasks, unless any has been judged."""
    judged = (
        Annotation.objects.filter(task__campaign=campaign, task__iteration=iteration).exists()
        or Skip.objects.filter(task__campaign=campaign, task__iteration=iteration).exists()
    )
    if judged:
        raise InputError(
            f"campaign {campaign.name} iteration {iteration}",
            "already has annotations or skips: its candidate sets are kept, not rebuilt",
        )
    CandidateSet.objects.filter(campaign=campaign, iteration=iteration).delete()


def candidate_sets_build(*, campaign: Campaign, iteration: int) -> int:
    """Builds (or replaces) one iteration's candidate sets and tasks; returns how many sets."""
    if iteration not in (1, 2):
        raise InputError("iteration", f"must be 1 or 2, not {iteration}")
    matrix, results, version = _retrieve(campaign, iteration)
    with transaction.atomic():
        _clear_iteration(campaign, iteration)
        built = 0
        for result in results:
            built += _store(campaign, iteration, version, matrix, result)
    logger.info("campaign %s iteration %s: %s candidate sets", campaign.name, iteration, built)
    return built


def _store(campaign: Campaign, iteration: int, version: str, matrix: EmbeddingMatrix,
           result: _Retrieved) -> int:
    """Writes candidate sets, their candidates and one task each, a slice of anchors at a time."""
    ids = matrix.sticker_ids
    # An anchor left with no candidate at all (a library smaller than the page asked for, e.g.
    # ranks 21-40 of 15 stickers) gets no set and no task: there would be nothing to judge.
    keep = (result.indices >= 0).any(axis=1)  # (A,)
    anchor_rows, indices = result.anchor_rows[keep], result.indices[keep]  # (A', ), (A', k)
    scores = result.scores[keep]  # (A', k)
    per_slice = max(1, INSERT_BATCH // max(campaign.candidate_count, 1))
    for start in range(0, len(anchor_rows), per_slice):
        rows = anchor_rows[start:start + per_slice]
        sets = CandidateSet.objects.bulk_create(
            [
                CandidateSet(campaign=campaign, anchor_id=int(ids[r]), iteration=iteration,
                             encoder_version=version, retrieval_view=result.view)
                for r in rows
            ]
        )
        if any(s.pk is None for s in sets):  # a backend that returns no ids: read them back
            by_anchor = dict(
                CandidateSet.objects.filter(campaign=campaign, iteration=iteration,
                                            anchor_id__in=[int(ids[r]) for r in rows])
                .values_list("anchor_id", "id")
            )
            for s in sets:
                s.pk = s.id = by_anchor[s.anchor_id]
        candidates = [
            Candidate(candidate_set=s, sticker_id=int(ids[j]), rank=rank, score=float(score))
            for s, i in zip(sets, range(start, start + len(rows)), strict=True)
            for rank, (j, score) in enumerate(
                zip(indices[i], scores[i], strict=True), start=1
            )
            if j >= 0
        ]
        Candidate.objects.bulk_create(candidates, batch_size=INSERT_BATCH)
        Task.objects.bulk_create(
            [Task(candidate_set=s, campaign=campaign, anchor_id=s.anchor_id, iteration=iteration)
             for s in sets],
            batch_size=INSERT_BATCH,
        )
    return len(anchor_rows)

