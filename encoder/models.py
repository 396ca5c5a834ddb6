"""Encoder versions (base models and trained GSEs) and the sticker embeddings they made."""
from django.db import models

from annotation.models import Sticker


class EncoderVersion(models.Model):
    """A registered image encoder: a base OpenCLIP model or a GSE trained on a snapshot."""

    class Kind(models.TextChoices):
        BASE = "base"
        GSE = "gse"

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    # Stable id: model name/config + pretrained source (+ training run for GSE), hashed.
    version = models.CharField(max_length=128, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    model_name = models.CharField(max_length=300)  # OpenCLIP name or config JSON path
    model_config = models.JSONField(default=dict)  # the exact OpenCLIP model config
    pretrained = models.CharField(max_length=500, blank=True)  # hub tag or checkpoint path
    checkpoint = models.CharField(max_length=500, blank=True)  # our saved weights (GSE)
    snapshot = models.ForeignKey(
        "pairbuilder.Snapshot", null=True, blank=True, on_delete=models.PROTECT,
        related_name="encoders",
    )
    train_config = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict)  # {"gse": {...}, "base": {...}}
    threshold = models.FloatField(null=True)  # tuned on the validation split
    report_dir = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DONE)
    progress = models.FloatField(default=0.0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.version


class StickerEmbedding(models.Model):
    """The L2-normalised image embedding of a sticker's still under one encoder version."""

    sticker = models.ForeignKey(Sticker, on_delete=models.CASCADE, related_name="embeddings")
    encoder_version = models.CharField(max_length=128, db_index=True)
    dim = models.PositiveIntegerField()
    vector = models.BinaryField()  # float32 little-endian, length dim
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sticker", "encoder_version"], name="embedding_unique_per_version"
            )
        ]
