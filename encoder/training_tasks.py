"""Celery tasks of GSE training. They run on the ``gpu`` queue: ``gse_train_start`` sends them
there explicitly (a route ``"encoder.training_tasks.*": {"queue": "gpu"}`` in
CELERY_TASK_ROUTES would say the same for any other caller).
"""

from __future__ import annotations

import logging

from celery import shared_task

from encoder.gse.config import TrainConfig
from encoder.models import EncoderVersion
from encoder.training_services import gse_train

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def gse_train_task(*, encoder_version_id: int) -> int:
    """Runs a GSE training registered by ``gse_train_start``; progress lands on the row."""
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
