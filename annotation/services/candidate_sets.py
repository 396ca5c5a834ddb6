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

Writes (issue 14: a million anchors are 20 million candidate rows an iteration): PostgreSQL
``COPY`` in binary format, the rows built as NumPy records (no Python object per row), a chunk
of ``WRITE_CHUNK_ANCHORS`` anchors at a time, each chunk in its own transaction that first
deletes whatever sets its anchors already have (replace-then-write). Memory is bounded by one
chunk; a write interrupted anywhere leaves whole chunks, and writing again ends with exactly one
set, its candidates and one task per anchor. ``candidate_sets_write`` is the entry point for
results computed elsewhere (the chunked retrieval job of ``encoder.job_services``).

The retrieval (``encoder.retrieval``, torch) and the text tower are imported inside the
functions that use them: this module is imported by web processes that never build candidates.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from annotation.errors import InputError
from annotation.models import Annotation, Campaign, Candidate, CandidateSet, Lease, Skip, Task
from core.pg_copy import COPY_HEADER, COPY_TRAILER, copy_records
from encoder.embedding_services import EmbeddingMatrix, embeddings_load, query_text_vectors
from encoder.models import EncoderVersion

logger = logging.getLogger(__name__)

# Anchors per write transaction: 10,000 anchors x 20 candidates are 200,000 candidate rows,
# ~9 MB of COPY records, one transaction of a few seconds.
WRITE_CHUNK_ANCHORS = 10_000


def _version_row(version: str, what: str) -> EncoderVersion:
    row = EncoderVersion.objects.filter(version=version).first()
    if row is None:
        raise InputError(what, f"encoder version {version!r} is not registered")
    return row


@dataclass
class Retrieved:
    """One retrieval view's results for some anchors: anchors and candidates are rows of the
    embedding matrix."""

    anchor_rows: np.ndarray  # (A,)
    indices: np.ndarray  # (A, k) rows of the matrix, -1 padded
    scores: np.ndarray  # (A, k)
    view: str


def iteration_version(campaign: Campaign, iteration: int) -> str:
    """The encoder version whose embeddings an iteration retrieves with."""
    if iteration not in (1, 2):
        raise InputError("iteration", f"must be 1 or 2, not {iteration}")
    if iteration == 1 or campaign.iteration2_source in ("", Campaign.Iteration2Source.NEXT_PAGE,
                                                        Campaign.Iteration2Source.TEXT_QUERY):
        if not campaign.encoder_version:
            raise InputError(f"campaign {campaign.name}", "has no encoder_version")
        return campaign.encoder_version
    if not campaign.iteration2_encoder_version:
        raise InputError(
            f"campaign {campaign.name}",
            "iteration2_source is 'retrained' but iteration2_encoder_version is empty",
        )
    return campaign.iteration2_encoder_version


def candidates_retrieve(
    *, campaign: Campaign, iteration: int, matrix: EmbeddingMatrix, groups: np.ndarray,
    anchor_rows: np.ndarray | None = None, max_shard_rows: int | None = None,
) -> list[Retrieved]:
    """Runs the retrieval view(s) of one iteration for ``anchor_rows`` (default: every row of
    the matrix) against the whole library; ``max_shard_rows`` holds the library a shard at a
    time (``encoder.retrieval``: the merge is exact)."""
    from encoder.retrieval import topk_cosine  # torch: only where candidates are built

    k = campaign.candidate_count
    view = CandidateSet.RetrievalView
    rows = np.arange(len(matrix.sticker_ids)) if anchor_rows is None else anchor_rows
    common = {"duplicate_group": groups, "max_shard_rows": max_shard_rows}
    source = campaign.iteration2_source
    if iteration == 1 or source == Campaign.Iteration2Source.RETRAINED:
        idx, sc = topk_cosine(matrix.vectors, k, anchors=rows, **common)
        return [Retrieved(rows, idx, sc, view.IMAGE)]
    if source == Campaign.Iteration2Source.TEXT_QUERY:
        version = _version_row(iteration_version(campaign, iteration), campaign.name)
        text_vecs, has = query_text_vectors(version, matrix.sticker_ids[rows])
        out = []
        if has.any():
            idx, sc = topk_cosine(matrix.vectors, k, anchors=rows[has],
                                  anchor_vectors=text_vecs[has], **common)
            out.append(Retrieved(rows[has], idx, sc, view.TEXT_QUERY))
        if (~has).any():
            idx, sc = topk_cosine(matrix.vectors, k, anchors=rows[~has], offset=k, **common)
            out.append(Retrieved(rows[~has], idx, sc, view.NEXT_PAGE))
        return out
    # next_page (also the default when the campaign names no source)
    idx, sc = topk_cosine(matrix.vectors, k, anchors=rows, offset=k, **common)
    return [Retrieved(rows, idx, sc, view.NEXT_PAGE)]


# ---------------------------------------------------------------- deleting and writing sets


def _sets_where(anchor_ids: np.ndarray | None) -> tuple[str, list]:
    """SQL selecting the ids of an iteration's sets (optionally of some anchors only)."""
    sql = f"SELECT id FROM {CandidateSet._meta.db_table} WHERE campaign_id = %s AND iteration = %s"
    return (sql, []) if anchor_ids is None else (sql + " AND anchor_id = ANY(%s)",
                                                 [anchor_ids.tolist()])


def _has_sets(campaign: Campaign, iteration: int, anchor_ids: np.ndarray) -> bool:
    """Whether any of these anchors has a set in the iteration (one array parameter, read
    from the (campaign, anchor, iteration) unique index)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {CandidateSet._meta.db_table} "
                       "WHERE campaign_id = %s AND iteration = %s AND anchor_id = ANY(%s))",
                       [campaign.id, iteration, anchor_ids.tolist()])
        return bool(cursor.fetchone()[0])


def _judged(campaign: Campaign, iteration: int, anchor_ids: np.ndarray | None = None) -> bool:
    tasks = Task.objects.filter(campaign=campaign, iteration=iteration)
    if anchor_ids is not None:
        tasks = tasks.filter(anchor_id__in=anchor_ids.tolist())
    return (Annotation.objects.filter(task__in=tasks).exists()
            or Skip.objects.filter(task__in=tasks).exists())


def _delete_sets(campaign: Campaign, iteration: int, anchor_ids: np.ndarray | None) -> None:
    """Deletes sets with their candidates, tasks and leases, in SQL (the ORM's cascade would
    read a million rows into Python first). Callers check first that none is judged."""
    sets, extra = _sets_where(anchor_ids)
    params = [campaign.id, iteration, *extra]
    tasks = f"SELECT id FROM {Task._meta.db_table} WHERE candidate_set_id IN ({sets})"
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Lease._meta.db_table} WHERE task_id IN ({tasks})", params)
        for model in (Task, Candidate):
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE candidate_set_id IN "
                           f"({sets})", params)
        cursor.execute(f"DELETE FROM {CandidateSet._meta.db_table} WHERE id IN ({sets})", params)


def candidate_sets_clear(*, campaign: Campaign, iteration: int) -> None:
    """Deletes an iteration's candidate sets and tasks, unless any has been judged
    (:class:`InputError` then: judgements are never silently orphaned)."""
    with transaction.atomic():
        if _judged(campaign, iteration):
            raise InputError(
                f"campaign {campaign.name} iteration {iteration}",
                "already has annotations or skips: its candidate sets are kept, not rebuilt",
            )
        _delete_sets(campaign, iteration, None)


def _copy(table: str, columns: Sequence[tuple[str, str, object]], n: int) -> None:
    """COPY ``n`` rows into ``table`` in PostgreSQL's binary format (``core.pg_copy``)."""
    names = ", ".join(name for name, _, _ in columns)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN WITH (FORMAT BINARY)") as cp:
            cp.write(COPY_HEADER)
            cp.write(copy_records(columns, n))
            cp.write(COPY_TRAILER)


def _sequence_ids(model, n: int) -> np.ndarray:
    """``n`` fresh primary keys from the table's sequence (COPY needs them to link rows)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
                       "FROM generate_series(1, %s)", [model._meta.db_table, n])
        return np.fromiter((r[0] for r in cursor.fetchall()), dtype=np.int64, count=n)


def _write_chunk(campaign: Campaign, iteration: int, version: str, anchors: np.ndarray,
                 indices: np.ndarray, scores: np.ndarray, view: str) -> None:
    """Writes the sets, candidates and tasks of some anchors (sticker ids ``anchors``; their
    candidates ``indices`` as sticker ids, -1 padded) in the caller's transaction."""
    n = len(anchors)
    now = timezone.now()
    set_ids = _sequence_ids(CandidateSet, n)
    _copy(CandidateSet._meta.db_table, [
        ("id", "int8", set_ids), ("campaign_id", "int8", campaign.id),
        ("anchor_id", "int8", anchors), ("iteration", "int2", iteration),
        ("encoder_version", "text", version), ("retrieval_view", "text", view),
        ("created_at", "timestamptz", now)], n)
    keep = indices >= 0  # (n, k)
    ranks = np.broadcast_to(np.arange(1, indices.shape[1] + 1), indices.shape)  # (n, k)
    _copy(Candidate._meta.db_table, [
        ("candidate_set_id", "int8", np.repeat(set_ids, keep.sum(axis=1))),
        ("sticker_id", "int8", indices[keep]), ("rank", "int4", ranks[keep]),
        ("score", "float8", scores[keep].astype(np.float64))], int(keep.sum()))
    _copy(Task._meta.db_table, [
        ("candidate_set_id", "int8", set_ids), ("campaign_id", "int8", campaign.id),
        ("anchor_id", "int8", anchors), ("iteration", "int2", iteration),
        ("status", "text", Task.Status.OPEN), ("created_at", "timestamptz", now)], n)


def candidate_sets_write(
    *, campaign: Campaign, iteration: int, version: str, matrix: EmbeddingMatrix,
    results: Sequence[Retrieved], chunk_anchors: int = WRITE_CHUNK_ANCHORS,
) -> int:
    """Writes retrieval results as candidate sets, candidates and one task per set, with COPY,
    ``chunk_anchors`` anchors per transaction (replace-then-write: a chunk's anchors lose the
    sets they had first, so writing again after an interruption ends with exactly one set per
    anchor). An anchor left with no candidate at all (a library smaller than the page asked
    for, e.g. ranks 21-40 of 15 stickers) gets no set and no task: there would be nothing to
    judge. Returns how many sets were written."""
    ids = matrix.sticker_ids
    written = 0
    for result in results:
        keep = (result.indices >= 0).any(axis=1)  # (A,)
        anchor_rows, indices, scores = (result.anchor_rows[keep], result.indices[keep],
                                        result.scores[keep])
        for start in range(0, len(anchor_rows), chunk_anchors):
            part = slice(start, start + chunk_anchors)
            anchors = ids[anchor_rows[part]]  # (C,) sticker ids
            chosen = np.where(indices[part] >= 0, ids[np.maximum(indices[part], 0)], -1)
            with transaction.atomic():
                # A first write (every chunk of a new job) finds no sets and skips the judged
                # check and the four deletes: 10,000-id queries that cost more than the COPY.
                if _has_sets(campaign, iteration, anchors):
                    if _judged(campaign, iteration, anchors):
                        raise InputError(
                            f"campaign {campaign.name} iteration {iteration}",
                            "some of these anchors already have annotations or skips: kept")
                    _delete_sets(campaign, iteration, anchors)
                _write_chunk(campaign, iteration, version, anchors, chosen, scores[part],
                             result.view)
            written += len(anchors)
    return written


def candidate_sets_build(*, campaign: Campaign, iteration: int) -> int:
    """Builds (or replaces) one iteration's candidate sets and tasks in this process; returns
    how many sets. (``encoder.job_services.retrieval_job_start`` does the same as a job split
    over gpu workers.)"""
    version = iteration_version(campaign, iteration)
    matrix = embeddings_load(encoder_version=version)
    results = candidates_retrieve(campaign=campaign, iteration=iteration, matrix=matrix,
                                  groups=matrix.duplicate_groups())
    candidate_sets_clear(campaign=campaign, iteration=iteration)
    built = candidate_sets_write(campaign=campaign, iteration=iteration, version=version,
                                 matrix=matrix, results=results)
    logger.info("campaign %s iteration %s: %s candidate sets", campaign.name, iteration, built)
    return built
