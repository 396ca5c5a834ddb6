"""Encoder versions (base models and trained GSEs), the sticker embeddings they made, and the
similarity jobs that score uploaded files on a worker."""
from django.conf import settings
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
    encoder_version = models.ForeignKey(EncoderVersion, on_delete=models.CASCADE,
                                        related_name="embeddings")
    dim = models.PositiveIntegerField()
    vector = models.BinaryField()  # float32 little-endian, length dim
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sticker", "encoder_version"], name="embedding_unique_per_version"
            )
        ]


class SimilarityJob(models.Model):
    """A similarity asked with an uploaded file: the web process never loads a model, so the
    upload waits here for a worker on the ``gpu`` queue to embed it and write the answer.

    The uploaded bytes are kept only until the job is scored (workers on other machines read
    them from the database, which they share, not from a web server's disk).
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    encoder_version = models.ForeignKey(EncoderVersion, on_delete=models.CASCADE,
                                        related_name="similarity_jobs")
    # Each side is a library sticker or an uploaded file (name and bytes).
    sticker_a = models.ForeignKey(Sticker, null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="+")
    file_a = models.BinaryField(null=True, blank=True)
    name_a = models.CharField(max_length=255, blank=True)
    sticker_b = models.ForeignKey(Sticker, null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="+")
    file_b = models.BinaryField(null=True, blank=True)
    name_b = models.CharField(max_length=255, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    cosine = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"similarity job {self.pk} ({self.status})"


class EncoderJob(models.Model):
    """Work for the gpu workers split into chunks of stickers (sticker-id ranges): embedding a
    version's stickers, or retrieving an iteration's candidate sets. Each chunk is a Celery
    task whose result is stored when it finishes (``EncoderJobChunk``), so several workers share
    one job and a rerun does only the chunks that are not done."""

    class Kind(models.TextChoices):
        EMBED = "embed"
        RETRIEVE = "retrieve"

    class Status(models.TextChoices):
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    encoder_version = models.ForeignKey(EncoderVersion, on_delete=models.CASCADE,
                                        related_name="jobs")
    campaign = models.ForeignKey("annotation.Campaign", null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="encoder_jobs")
    iteration = models.PositiveSmallIntegerField(null=True, blank=True)  # retrieval jobs
    chunk_size = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} job {self.pk} ({self.status})"


class EncoderJobChunk(models.Model):
    """One chunk of an EncoderJob: the stickers with ``first_id <= id <= last_id``, who ran it,
    how often it was started, and when it finished."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    job = models.ForeignKey(EncoderJob, on_delete=models.CASCADE, related_name="chunks")
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    worker = models.CharField(max_length=200, blank=True)  # host:pid of the last run
    runs = models.PositiveIntegerField(default=0)  # times a worker started it
    rows = models.PositiveIntegerField(default=0)  # embeddings or candidate sets written
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "first_id"],
                                               name="encoder_job_chunk_unique")]

    def __str__(self) -> str:
        return f"job {self.job_id} [{self.first_id}, {self.last_id}] ({self.status})"
