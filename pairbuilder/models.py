"""Pair builds, extracted pairs, review decisions, text embeddings and snapshots."""
from django.conf import settings
from django.db import models

from annotation.models import Campaign, Sticker


class PairBuild(models.Model):
    """One run of the pair rules over a campaign's annotations, with its parameters."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="pair_builds")
    # min_positive, min_displayed, max_query_overlap, max_text_cosine, text_model
    params = models.JSONField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    progress = models.FloatField(default=0.0)  # 0..1
    counts = models.JSONField(default=dict)  # pairs per rule, rejections per negative condition
    annotation_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True)


class Pair(models.Model):
    """An extracted pair with its evidence; sticker_a.sticker_id < sticker_b.sticker_id."""

    # Indexed with the label (below) rather than alone: same size, and the campaign page's
    # pairs per rule is an index-only count (millions of rows per build at scale: issue 14).
    build = models.ForeignKey(PairBuild, on_delete=models.CASCADE, related_name="pairs",
                              db_index=False)
    sticker_a = models.ForeignKey(Sticker, on_delete=models.CASCADE, related_name="+")
    sticker_b = models.ForeignKey(Sticker, on_delete=models.CASCADE, related_name="+")
    label = models.PositiveSmallIntegerField()  # 1 positive, 0 negative
    co_selected = models.PositiveIntegerField()
    co_displayed = models.PositiveIntegerField()
    query_overlap = models.PositiveIntegerField()
    text_cosine = models.FloatField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["build", "sticker_a", "sticker_b"], name="pair_unique_per_build"
            )
        ]
        indexes = [models.Index(fields=["build", "label"], name="pair_build_label_idx")]


class PairReview(models.Model):
    """A curator's decision on a (pair, label); kept across builds while the label holds."""

    class Decision(models.TextChoices):
        ACCEPT = "accept"
        REJECT = "reject"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="pair_reviews")
    sticker_a = models.ForeignKey(Sticker, on_delete=models.CASCADE, related_name="+")
    sticker_b = models.ForeignKey(Sticker, on_delete=models.CASCADE, related_name="+")
    label = models.PositiveSmallIntegerField()
    decision = models.CharField(max_length=8, choices=Decision.choices)
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    decided_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "sticker_a", "sticker_b", "label"], name="review_unique"
            )
        ]


class TextEmbedding(models.Model):
    """The query-text embedding of a sticker for one text model; stale when queries change."""

    sticker = models.ForeignKey(Sticker, on_delete=models.CASCADE, related_name="+")
    text_model = models.CharField(max_length=300)
    queries_digest = models.CharField(max_length=64)  # sha256 of the text that was embedded
    vector = models.BinaryField()  # float32, L2-normalised

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sticker", "text_model"], name="text_embedding_unique")
        ]


class Snapshot(models.Model):
    """An immutable, numbered export of a pair build in the Triple-S format."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    number = models.PositiveIntegerField(unique=True)
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="snapshots")
    build = models.ForeignKey(PairBuild, on_delete=models.PROTECT, related_name="snapshots")
    params = models.JSONField()  # split ratios, seed, include_unreviewed
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    path = models.CharField(max_length=500, blank=True)  # folder with the files and manifest
    archive = models.CharField(max_length=500, blank=True)  # .zip of that folder
    manifest = models.JSONField(default=dict)
    # What the pages show of the manifest (its splits' counts, the dropped cross-split pairs):
    # the manifest lists every sticker's hash (~70 MB at 1,000,000 stickers), and reading one
    # key of it reads it all.
    summary = models.JSONField(default=dict)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
