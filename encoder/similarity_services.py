"""Similarity from stored embeddings: two library stickers' cosine, a sticker's most similar
stickers, and the similarity jobs that score an uploaded file on a worker.

NumPy only, no torch: this is what the web processes run. A sticker without a stored
embedding under the asked version is refused (:class:`EmbeddingMissing`, a 409 in the API),
never embedded inside the request; an uploaded file is embedded by a worker on the ``gpu``
queue (:func:`similarity_job_start`, answered through the job row).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import IO, Any

import numpy as np
from django.contrib.auth.base_user import AbstractBaseUser

from annotation.errors import ConflictError, InputError
from annotation.models import Sticker
from encoder.embedding_services import EmbeddingMatrix, embeddings_load
from encoder.models import EncoderVersion, SimilarityJob, StickerEmbedding

MATRICES_MAX = 2  # a million 512-d float32 embeddings are 2 GB: two versions per process
JOB_POLL_S = 0.05  # how often a bounded wait re-reads the job row

StickerOrFile = Sticker | IO[bytes]


class EmbeddingMissing(ConflictError):  # noqa: N818  (an InputError: the field, then why)
    """A sticker has no stored embedding under the version asked for (the embedding job has not
    reached it): the caller waits for the job, it is not a mistake in the request (409)."""


def _threshold(encoder_version: EncoderVersion) -> float:
    if encoder_version.threshold is None:
        raise InputError(f"encoder version {encoder_version.version}",
                         "has no tuned threshold: train or evaluate it with a validation split")
    return float(encoder_version.threshold)


def similarity_answer(encoder_version: EncoderVersion, cosine: float) -> dict[str, Any]:
    """What the API answers for one cosine: the cosine, yes/no at the version's tuned
    threshold, the threshold and the model."""
    threshold = _threshold(encoder_version)
    return {"cosine": cosine, "similar": cosine >= threshold, "threshold": threshold,
            "model": encoder_version.version}


def sticker_vector(*, encoder_version: EncoderVersion, sticker: Sticker) -> np.ndarray:
    """(D,) the sticker's stored embedding under the version; EmbeddingMissing when none."""
    row = (StickerEmbedding.objects.filter(sticker=sticker, encoder_version=encoder_version)
           .values_list("vector", flat=True).first())
    if row is None:
        raise EmbeddingMissing(
            f"sticker {sticker.sticker_id}",
            f"has no stored embedding under {encoder_version.version} yet: embed the library "
            "with it first (manage.py embed_stickers --encoder-version)")
    return np.frombuffer(bytes(row), "<f4").astype(np.float32)


def sticker_similarity(
    *, encoder_version: EncoderVersion, a: Sticker, b: Sticker
) -> dict[str, Any]:
    """Cosine of two library stickers' stored embeddings and yes/no at the tuned threshold."""
    _threshold(encoder_version)  # refused before anything is read
    va = sticker_vector(encoder_version=encoder_version, sticker=a)
    vb = sticker_vector(encoder_version=encoder_version, sticker=b)
    return similarity_answer(encoder_version, float(np.dot(va, vb)))


_MATRICES: dict[str, tuple[int, EmbeddingMatrix, np.ndarray]] = {}  # version -> count, m, groups
_MATRICES_LOCK = threading.Lock()


def _matrix(version: str) -> tuple[EmbeddingMatrix, np.ndarray]:
    """The version's embedding matrix and duplicate groups, reloaded only when its row count
    changed (reading a million rows per request would dominate the answer)."""
    count = StickerEmbedding.objects.filter(encoder_version__version=version).count()
    with _MATRICES_LOCK:
        hit = _MATRICES.get(version)
        if hit is None or hit[0] != count:
            if len(_MATRICES) >= MATRICES_MAX:
                _MATRICES.pop(next(iter(_MATRICES)))
            matrix = embeddings_load(encoder_version=version)
            hit = _MATRICES[version] = (count, matrix, matrix.duplicate_groups())
        return hit[1], hit[2]


def nearest_rows(vectors: np.ndarray, groups: np.ndarray, row: int, k: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows nearest to ``row`` by inner product, leaving out the row's duplicate
    group (itself included): ``(rows, scores)``, best first, ties by the lower row, as
    ``encoder.retrieval.topk_cosine`` orders them."""
    scores = vectors @ vectors[row]  # (N,)
    scores[groups == groups[row]] = -np.inf
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    # Everything tied with the k-th best score is a candidate, so the tie-break stays exact.
    kth = np.partition(scores, len(scores) - k)[len(scores) - k]
    candidates = np.flatnonzero(scores >= kth)
    order = np.lexsort((candidates, -scores[candidates]))[:k]
    best = candidates[order]
    return best, scores[best]


def stickers_most_similar(
    *, encoder_version: EncoderVersion, sticker: Sticker, k: int = 20
) -> list[dict[str, Any]]:
    """The ``k`` library stickers nearest to ``sticker`` under the version, from the stored
    embeddings; EmbeddingMissing when the sticker has none yet."""
    sticker_vector(encoder_version=encoder_version, sticker=sticker)  # none: EmbeddingMissing
    matrix, groups = _matrix(encoder_version.version)
    rows = np.flatnonzero(matrix.sticker_ids == sticker.id)
    if rows.size == 0:  # deleted between the two reads
        raise EmbeddingMissing(f"sticker {sticker.sticker_id}", "has no stored embedding")
    best, scores = nearest_rows(matrix.vectors, groups, int(rows[0]), k)
    ids = [int(matrix.sticker_ids[i]) for i in best]
    names: Mapping[int, str] = dict(
        Sticker.objects.filter(id__in=ids).values_list("id", "sticker_id"))
    threshold = encoder_version.threshold
    return [{"sticker_id": names[sid], "cosine": float(s),
             "similar": None if threshold is None else bool(s >= threshold)}
            for sid, s in zip(ids, scores, strict=True) if sid in names]


# ---------------------------------------------------------------- uploads: a job on a worker


def similarity_job_start(
    *, encoder_version: EncoderVersion, a: StickerOrFile, b: StickerOrFile,
    requested_by: AbstractBaseUser | None = None,
) -> SimilarityJob:
    """Stores a similarity with at least one uploaded file and sends it to the ``gpu`` queue.

    The message is sent at once, not on commit: in a request (autocommit) the row is already
    committed, and with eager Celery (the tests) the task runs inline here, so the job is
    answered before this returns. A worker that does not find the row yet retries.
    """
    from encoder.tasks import GPU_QUEUE, similarity_job_task

    _threshold(encoder_version)  # refused before a worker is bothered
    fields: dict[str, Any] = {}
    for side, item in (("a", a), ("b", b)):
        if isinstance(item, Sticker):
            fields[f"sticker_{side}"] = item
        else:
            fields[f"file_{side}"] = item.read()
            fields[f"name_{side}"] = (getattr(item, "name", "") or "upload")[:255]
    user = requested_by if requested_by is not None and requested_by.is_authenticated else None
    job = SimilarityJob.objects.create(encoder_version=encoder_version, requested_by=user,
                                       **fields)
    similarity_job_task.apply_async(kwargs={"job_id": job.id}, queue=GPU_QUEUE)
    job.refresh_from_db()
    return job


def similarity_job_wait(*, job: SimilarityJob, timeout_s: float) -> SimilarityJob:
    """The job as it stands once a worker answered it, or after ``timeout_s`` (still pending).

    A bounded wait in the request: an answer from a running gpu worker takes a fraction of a
    second, and the API turns a job still pending at the bound into 202 + a poll URL.
    """
    deadline = time.monotonic() + timeout_s
    while job.status == SimilarityJob.Status.PENDING and time.monotonic() < deadline:
        time.sleep(JOB_POLL_S)
        job.refresh_from_db(fields=["status", "cosine", "error", "finished_at"])
    return job


def similarity_job_status(*, job: SimilarityJob) -> dict[str, Any]:
    """What the poll answers: the status, the error of a failed job, the answer of a done one."""
    out: dict[str, Any] = {"id": job.id, "status": job.status, "error": job.error,
                           "model": job.encoder_version.version}
    if job.status == SimilarityJob.Status.DONE and job.cosine is not None:
        out.update(similarity_answer(job.encoder_version, job.cosine))
    return out
