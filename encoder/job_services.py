"""Embedding and retrieval as jobs split over gpu workers (issue 14).

A job (``EncoderJob``) is cut into chunks of stickers by primary key (``EncoderJobChunk``:
``first_id <= id <= last_id``), each chunk one Celery task on the ``gpu`` queue, sent together
as a Celery group, so every worker on the queue takes chunks of the same job. A chunk's result
is stored when it finishes: an embedding chunk writes its embeddings (batch by batch), a
retrieval chunk writes its anchors' candidate sets with the chunk's ``done`` mark in the same
transaction. A killed worker costs the chunk it was running; :func:`encoder_job_resume` (or
starting a job again) sends the chunks that are not done, never the finished ones.

Why no chord: a chord's callback needs a result backend, which the PostgreSQL broker (the
default without Redis) does not have. The chunk that finishes last marks the job done (one
conditional UPDATE), whatever the broker.

Two workers never run one chunk at once: a worker holds a PostgreSQL advisory lock on the chunk
for as long as it runs it (session-level, so it dies with a killed worker's connection and the
chunk can be taken up again at once).

Entry points: :func:`embedding_job_start`, :func:`retrieval_job_start`,
:func:`encoder_job_resume`, :func:`encoder_job_status`; the workers run
:func:`encoder_job_chunk_run`. torch is imported only inside the worker-side functions.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from annotation.errors import InputError
from annotation.models import Campaign, Sticker
from encoder.embedding_services import EmbeddingMatrix, embeddings_load
from encoder.models import EncoderJob, EncoderJobChunk, EncoderVersion, StickerEmbedding
from encoder.spec import EncoderError

logger = logging.getLogger(__name__)

# Stickers per embedding chunk: 2,000 ViT-B-32 images are ~10 s on a GPU, a minute on CPU:
# a killed worker loses little, and the per-task overhead (a model already loaded) is small.
EMBED_CHUNK = 2_000
# Anchors per retrieval chunk: 10,000 anchors against a million stickers is 5 TFLOP (seconds
# on a GPU) and 200,000 candidate rows written in one transaction.
RETRIEVE_CHUNK = 10_000
LOCK_NAMESPACE = 7_140_016  # first key of the chunks' advisory locks (second: the chunk id)


def _id_ranges(ids: np.ndarray, chunk_size: int) -> list[tuple[int, int]]:
    """(first, last) sticker ids of consecutive runs of ``chunk_size`` ids (ascending)."""
    return [(int(ids[i]), int(ids[min(i + chunk_size, len(ids)) - 1]))
            for i in range(0, len(ids), chunk_size)]


def _job_create(*, kind: str, encoder_version: EncoderVersion, ids: np.ndarray,
                chunk_size: int, campaign: Campaign | None = None,
                iteration: int | None = None) -> EncoderJob:
    if chunk_size < 1:
        raise InputError("chunk_size", f"must be at least 1, not {chunk_size}")
    job = EncoderJob.objects.create(kind=kind, encoder_version=encoder_version,
                                    campaign=campaign, iteration=iteration,
                                    chunk_size=chunk_size)
    EncoderJobChunk.objects.bulk_create(
        EncoderJobChunk(job=job, first_id=first, last_id=last)
        for first, last in _id_ranges(ids, chunk_size))
    if not ids.size:
        EncoderJob.objects.filter(pk=job.pk).update(status=EncoderJob.Status.DONE,
                                                    finished_at=timezone.now())
        job.refresh_from_db()
    return job


def embedding_job_start(*, encoder_version: EncoderVersion,
                        chunk_size: int = EMBED_CHUNK) -> EncoderJob:
    """Embeds every sticker of the library under ``encoder_version`` (those already embedded
    are skipped), ``chunk_size`` stickers per chunk, on the gpu workers. Returns the job; its
    chunks are sent once the job's rows are committed."""
    ids = np.fromiter(Sticker.objects.order_by("id").values_list("id", flat=True).iterator(
        chunk_size=100_000), dtype=np.int64)
    with transaction.atomic():
        job = _job_create(kind=EncoderJob.Kind.EMBED, encoder_version=encoder_version,
                          ids=ids, chunk_size=chunk_size)
        transaction.on_commit(lambda: encoder_job_resume(job=job))
    return job


def retrieval_job_start(*, campaign: Campaign, iteration: int,
                        chunk_size: int = RETRIEVE_CHUNK) -> EncoderJob:
    """Builds (or replaces) one iteration's candidate sets and tasks on the gpu workers,
    ``chunk_size`` anchors per chunk, each against the whole library. The iteration's old sets
    are deleted first (refused once any is judged), as ``candidate_sets_build`` does."""
    from annotation.services.candidate_sets import candidate_sets_clear, iteration_version

    version_name = iteration_version(campaign, iteration)
    version = EncoderVersion.objects.filter(version=version_name).first()
    if version is None:
        raise InputError(f"campaign {campaign.name}",
                         f"encoder version {version_name!r} is not registered")
    ids = np.fromiter(StickerEmbedding.objects.filter(encoder_version=version)
                      .order_by("sticker_id").values_list("sticker_id", flat=True)
                      .iterator(chunk_size=100_000), dtype=np.int64)
    if not ids.size:
        raise InputError(f"encoder version {version_name}",
                         "has no sticker embeddings: run its embedding job first")
    with transaction.atomic():
        candidate_sets_clear(campaign=campaign, iteration=iteration)
        job = _job_create(kind=EncoderJob.Kind.RETRIEVE, encoder_version=version, ids=ids,
                          chunk_size=chunk_size, campaign=campaign, iteration=iteration)
        transaction.on_commit(lambda: encoder_job_resume(job=job))
    return job


def encoder_job_resume(*, job: EncoderJob) -> int:
    """Sends every chunk of the job that is not done (pending, failed, or left running by a
    worker that died) to the gpu queue as one Celery group; returns how many. A chunk still
    running on a live worker is skipped by that worker's lock when its second message comes."""
    from celery import group

    from encoder.tasks import GPU_QUEUE, encoder_job_chunk_task

    chunk_ids = list(job.chunks.exclude(status=EncoderJobChunk.Status.DONE)
                     .order_by("first_id").values_list("id", flat=True))
    if chunk_ids:
        EncoderJob.objects.filter(pk=job.pk).update(status=EncoderJob.Status.RUNNING, error="")
        group(encoder_job_chunk_task.si(chunk_id=cid).set(queue=GPU_QUEUE)
              for cid in chunk_ids).apply_async()
    return len(chunk_ids)


def encoder_job_status(*, job: EncoderJob) -> dict[str, Any]:
    """The job's state from its chunks: counts by status, rows written, workers that ran one."""
    counts = job.chunks.aggregate(
        total=Count("id"), done=Count("id", filter=Q(status=EncoderJobChunk.Status.DONE)),
        failed=Count("id", filter=Q(status=EncoderJobChunk.Status.FAILED)),
        running=Count("id", filter=Q(status=EncoderJobChunk.Status.RUNNING)),
        rows=Sum("rows"))
    job.refresh_from_db(fields=["status", "error", "finished_at"])
    workers = sorted(set(job.chunks.exclude(worker="").values_list("worker", flat=True)))
    return {"id": job.id, "kind": job.kind, "status": job.status, "error": job.error,
            **counts, "rows": counts["rows"] or 0, "workers": workers}


# ---------------------------------------------------------------- on a worker


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


_MATRICES: dict[str, tuple[int, EmbeddingMatrix, np.ndarray]] = {}  # one version per worker


def _matrix(version: str) -> tuple[EmbeddingMatrix, np.ndarray]:
    """The version's embeddings and duplicate groups, kept between this worker's chunks."""
    count = StickerEmbedding.objects.filter(encoder_version__version=version).count()
    hit = _MATRICES.get(version)
    if hit is None or hit[0] != count:
        _MATRICES.clear()
        matrix = embeddings_load(encoder_version=version)
        hit = _MATRICES[version] = (count, matrix, matrix.duplicate_groups())
    return hit[1], hit[2]


def shard_rows(dim: int) -> int | None:
    """Library rows a retrieval holds on its device at once: RETRIEVAL_MAX_SHARD_ROWS when set,
    else on CUDA what fits in 80% of the device's free memory beside one score chunk, else None
    (on CPU the library is in this process's memory already)."""
    if settings.RETRIEVAL_MAX_SHARD_ROWS:
        return settings.RETRIEVAL_MAX_SHARD_ROWS
    import torch

    from encoder.retrieval import pick_device, shard_rows_for

    device = pick_device(settings.GSE_DEVICE or None)
    if device.type != "cuda":
        return None
    free, _ = torch.cuda.mem_get_info(device)
    return shard_rows_for(int(free * 0.8), dim)


def _embed(chunk: EncoderJobChunk) -> int:
    from encoder.embedding_services import loaded_encoder, stickers_embed

    version = chunk.job.encoder_version
    # Only what is missing in the range: a chunk left half done by a killed worker keeps the
    # embeddings of the batches it wrote.
    return stickers_embed(encoder_version=version, encoder=loaded_encoder(version),
                          id_range=(chunk.first_id, chunk.last_id))


def _retrieve(chunk: EncoderJobChunk) -> int:
    """Retrieves and writes the chunk's anchors' candidate sets, marking the chunk done in the
    same transaction (a killed worker leaves neither)."""
    from annotation.services.candidate_sets import candidate_sets_write, candidates_retrieve

    job = chunk.job
    matrix, groups = _matrix(job.encoder_version.version)
    rows = np.flatnonzero((matrix.sticker_ids >= chunk.first_id)
                          & (matrix.sticker_ids <= chunk.last_id))
    results = candidates_retrieve(campaign=job.campaign, iteration=job.iteration, matrix=matrix,
                                  groups=groups, anchor_rows=rows,
                                  max_shard_rows=shard_rows(matrix.vectors.shape[1]))
    with transaction.atomic():
        written = candidate_sets_write(campaign=job.campaign, iteration=job.iteration,
                                       version=job.encoder_version.version, matrix=matrix,
                                       results=results, chunk_anchors=max(len(rows), 1))
        _chunk_done(chunk, written)
    return written


def _chunk_done(chunk: EncoderJobChunk, rows: int) -> None:
    now = timezone.now()
    EncoderJobChunk.objects.filter(pk=chunk.pk).update(
        status=EncoderJobChunk.Status.DONE, rows=rows, finished_at=now,
        seconds=(now - chunk.started_at).total_seconds(), error="")


def _job_finish_if_complete(job_id: int) -> None:
    """The job is done once no chunk is left: whichever chunk finishes last says so."""
    EncoderJob.objects.filter(pk=job_id).exclude(status=EncoderJob.Status.DONE).exclude(
        chunks__status__in=[EncoderJobChunk.Status.PENDING, EncoderJobChunk.Status.RUNNING,
                            EncoderJobChunk.Status.FAILED],
    ).update(status=EncoderJob.Status.DONE, finished_at=timezone.now())


def encoder_job_chunk_run(*, chunk_id: int) -> str:
    """Runs one chunk on this worker unless it is done or another live worker holds it;
    returns what happened ("done", "skipped: ...", "failed: ..."). A failure is stored on the
    chunk and the job (the job's rows are its result; the task does not raise)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, chunk_id])
        if not cursor.fetchone()[0]:
            return "skipped: another worker runs it"
    try:
        chunk = EncoderJobChunk.objects.select_related(
            "job__encoder_version", "job__campaign").get(pk=chunk_id)
        if chunk.status == EncoderJobChunk.Status.DONE:
            return "skipped: done"
        chunk.started_at, chunk.worker = timezone.now(), _worker_name()
        EncoderJobChunk.objects.filter(pk=chunk.pk).update(
            status=EncoderJobChunk.Status.RUNNING, worker=chunk.worker, runs=chunk.runs + 1,
            started_at=chunk.started_at, error="")
        started = time.monotonic()
        try:
            if chunk.job.kind == EncoderJob.Kind.EMBED:
                _chunk_done(chunk, _embed(chunk))
            else:
                _retrieve(chunk)
        except (InputError, EncoderError, OSError) as e:
            logger.exception("chunk %s of job %s failed", chunk.pk, chunk.job_id)
            EncoderJobChunk.objects.filter(pk=chunk.pk).update(
                status=EncoderJobChunk.Status.FAILED, error=str(e)[:2000])
            EncoderJob.objects.filter(pk=chunk.job_id).update(
                status=EncoderJob.Status.FAILED, error=f"chunk {chunk.pk}: {e}"[:2000])
            return f"failed: {e}"
        logger.info("chunk %s of job %s done in %.2f s", chunk.pk, chunk.job_id,
                    time.monotonic() - started)
        _job_finish_if_complete(chunk.job_id)
        return "done"
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, chunk_id])
