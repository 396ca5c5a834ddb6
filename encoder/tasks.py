"""Celery tasks of the encoder app, all on the ``gpu`` queue (CELERY_TASK_ROUTES routes
``encoder.tasks.*`` there; the services also name it when they send).

Each takes ids, loads the rows and calls one service; the service owns the work. The services
are imported inside the tasks: the web processes import this module to send a task, and must
not import torch with it.
"""

from __future__ import annotations

import logging

from celery import shared_task

from annotation.models import Campaign
from encoder.models import EncoderVersion, SimilarityJob

logger = logging.getLogger(__name__)

GPU_QUEUE = "gpu"  # embedding, retrieval, training and upload scoring (config/celery.py)


@shared_task
def embed_stickers_task(*, encoder_version_id: int, batch_size: int | None = None) -> int:
    """Embeds the stickers still missing for one encoder version; returns how many."""
    from encoder.embedding_services import stickers_embed

    version = EncoderVersion.objects.get(id=encoder_version_id)
    return stickers_embed(encoder_version=version, batch_size=batch_size)


@shared_task
def build_candidates_task(*, campaign_id: int, iteration: int) -> int:
    """Builds one iteration's candidate sets and annotation tasks; returns how many sets."""
    from annotation.services.candidate_sets import candidate_sets_build

    campaign = Campaign.objects.get(id=campaign_id)
    return candidate_sets_build(campaign=campaign, iteration=iteration)


@shared_task(acks_late=True)
def gse_train_task(*, encoder_version_id: int) -> int:
    """Runs a GSE training registered by ``gse_train_start``; progress lands on the row."""
    from encoder.gse.config import TrainConfig
    from encoder.training_services import gse_train

    row = EncoderVersion.objects.select_related("snapshot").get(pk=encoder_version_id)
    if row.status == EncoderVersion.Status.DONE:
        return row.id  # redelivered after it finished (acks_late): nothing to redo
    try:
        gse_train(snapshot=row.snapshot, base_model=row.model_name, pretrained=row.pretrained,
                  config=TrainConfig.from_dict(row.train_config), encoder_version=row)
    except Exception as e:  # the row is the result: failed, with the message the page shows
        logger.exception("GSE training %s failed; the row says why", row.version)
        EncoderVersion.objects.filter(pk=row.pk).exclude(
            status=EncoderVersion.Status.FAILED).update(
                status=EncoderVersion.Status.FAILED, error=str(e)[:2000])
    return row.id


@shared_task(bind=True, acks_late=True, max_retries=20)
def similarity_job_task(self, *, job_id: int) -> int:
    """Scores a similarity job with an uploaded file (``similarity_job_start``); the answer
    lands on the job row, which the API reads."""
    from encoder.embedding_services import similarity_job_run

    job = (SimilarityJob.objects.select_related("encoder_version", "sticker_a", "sticker_b")
           .filter(pk=job_id).first())
    if job is None:  # sent by a caller whose transaction has not committed yet
        raise self.retry(countdown=0.5)
    similarity_job_run(job=job)
    return job.id


@shared_task(acks_late=True)
def encoder_job_chunk_task(*, chunk_id: int) -> str:
    """Runs one chunk of an embedding or retrieval job (``encoder.job_services``)."""
    from encoder.job_services import encoder_job_chunk_run

    return encoder_job_chunk_run(chunk_id=chunk_id)
