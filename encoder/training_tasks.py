"""Celery tasks of GSE training. They run on the ``gpu`` queue: ``gse_train_start`` sends them
there explicitly (a route ``"encoder.training_tasks.*": {"queue": "gpu"}`` in
CELERY_TASK_ROUTES would say the same for any other caller).
"""

from __future__ import annotations

from celery import shared_task

from encoder.gse.config import TrainConfig
from encoder.models import EncoderVersion
from encoder.training_services import gse_train


@shared_task(acks_late=True)
def gse_train_task(*, encoder_version_id: int) -> int:
    """Runs a GSE training registered by ``gse_train_start``; progress lands on the row."""
    row = EncoderVersion.objects.select_related("snapshot").get(pk=encoder_version_id)
    if row.status == EncoderVersion.Status.DONE:
        return row.id  # redelivered after it finished (acks_late): nothing to redo
    gse_train(snapshot=row.snapshot, base_model=row.model_name, pretrained=row.pretrained,
              config=TrainConfig.from_dict(row.train_config), encoder_version=row)
    return row.id
