"""Stickers, their queries, campaigns, candidate sets, tasks and annotations (paper 001, 3.2)."""

from django.conf import settings
from django.db import models


class Sticker(models.Model):
    """One sticker file, stored as uploaded, plus a still frame for the encoder."""

    class MediaType(models.TextChoices):
        PNG = "png"
        JPEG = "jpeg"
        GIF = "gif"
        WEBP = "webp"
        WEBM = "webm"

    # The file name as imported: the id used by StickerQueries and Triple-S CSVs.
    sticker_id = models.CharField(max_length=255, unique=True)
    file = models.FileField(upload_to="stickers/")
    still = models.ImageField(upload_to="stills/")  # PNG of the representative frame
    media_type = models.CharField(max_length=8, choices=MediaType.choices)
    content_hash = models.CharField(max_length=64, unique=True)  # sha256 of the original bytes
    size_bytes = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    frame_count = models.PositiveIntegerField(default=1)
    is_animated = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sticker_id"]

    def __str__(self) -> str:
        return self.sticker_id


class Query(models.Model):
    """A search phrase Q_i that people would type to find the sticker."""

    class Source(models.TextChoices):
        IMPORT = "import"
        GAME = "game"
        DEMO = "demo"

    sticker = models.ForeignKey(Sticker, on_delete=models.CASCADE, related_name="queries")
    text = models.CharField(max_length=500)
    normalized = models.CharField(max_length=500)  # trimmed and case-folded: what rules compare
    language = models.CharField(max_length=16)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.IMPORT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sticker", "language", "normalized"], name="query_unique_per_sticker"
            )
        ]
        indexes = [models.Index(fields=["normalized"])]

    def __str__(self) -> str:
        return f"{self.sticker_id}: {self.text}"


class Campaign(models.Model):
    """An annotation campaign: two iterations of candidate sets over a set of anchors."""

    class Iteration2Source(models.TextChoices):
        # What makes iteration 2 differ from iteration 1 (SPEC "The annotation protocol").
        RETRAINED = "retrained", "encoder retrained on iteration-1 pairs"
        TEXT_QUERY = "text_query", "text-query embeddings"
        NEXT_PAGE = "next_page", "candidates ranked 21-40"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    candidate_count = models.PositiveIntegerField(default=20)
    # Encoder version (encoder.EncoderVersion.version) used for iteration-1 retrieval.
    encoder_version = models.CharField(max_length=128, blank=True)
    iteration2_source = models.CharField(
        max_length=16, choices=Iteration2Source.choices, blank=True
    )
    iteration2_encoder_version = models.CharField(max_length=128, blank=True)
    annotators_per_task = models.PositiveIntegerField(default=1)  # > 1 measures agreement
    lease_seconds = models.PositiveIntegerField(default=600)
    # Snapshots take accepted pairs only unless the campaign says to include unreviewed ones.
    snapshot_include_unreviewed = models.BooleanField(default=False)
    # Every snapshot export that finishes queues a GSE training on the gpu queue (the design
    # card: each snapshot is trained on and evaluated), with these TrainConfig fields over the
    # paper's defaults ({}: 5 epochs, lr 1e-4, batch 32).
    train_on_export = models.BooleanField(default=True)
    train_config = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class CandidateSet(models.Model):
    """J_i^(t): the candidates retrieved for anchor s_i in iteration t."""

    class RetrievalView(models.TextChoices):
        IMAGE = "image"
        TEXT_QUERY = "text_query"
        NEXT_PAGE = "next_page"
        IMPORTED = "imported"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="candidate_sets")
    anchor = models.ForeignKey(Sticker, on_delete=models.CASCADE, related_name="+")
    iteration = models.PositiveSmallIntegerField()  # 1 or 2
    encoder_version = models.CharField(max_length=128, blank=True)
    retrieval_view = models.CharField(max_length=16, choices=RetrievalView.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "anchor", "iteration"], name="one_candidate_set_per_iteration"
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign} / {self.anchor} / it{self.iteration}"


class Candidate(models.Model):
    """One member of a candidate set, with its retrieval rank (1 = nearest) and cosine."""

    # No index of its own: both unique constraints below lead with it (20,000,000 candidate
    # rows per iteration at a million anchors: one index fewer to write).
    candidate_set = models.ForeignKey(
        CandidateSet, on_delete=models.CASCADE, related_name="candidates", db_index=False
    )
    sticker = models.ForeignKey(Sticker, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveIntegerField()
    score = models.FloatField(null=True)

    class Meta:
        ordering = ["rank"]
        constraints = [
            models.UniqueConstraint(fields=["candidate_set", "rank"], name="candidate_rank_unique"),
            models.UniqueConstraint(
                fields=["candidate_set", "sticker"], name="candidate_sticker_unique"
            ),
        ]


class Task(models.Model):
    """The unit of work an annotator is given: one candidate set to judge."""

    class Status(models.TextChoices):
        OPEN = "open"  # still needs annotations
        DONE = "done"  # has campaign.annotators_per_task annotations

    candidate_set = models.OneToOneField(
        CandidateSet, on_delete=models.CASCADE, related_name="task"
    )
    # No index of its own: the pick index (below) starts with the campaign.
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="tasks",
                                 db_index=False)
    anchor = models.ForeignKey(Sticker, on_delete=models.CASCADE, related_name="+")
    iteration = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    # Until when every slot of the task is taken by answers and live leases (the earliest live
    # lease's expiry), or null. A hint that lets the PostgreSQL pick skip held tasks without
    # counting their leases row by row; the exact recount under the task's row lock decides.
    held_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The pick's scan: a campaign's open tasks in hand-out order (selectors.tasks_available).
        indexes = [models.Index(fields=["campaign", "status", "iteration", "id"],
                                name="annotation_task_pick_idx")]


class Lease(models.Model):
    """An annotator's hold on a task until ``expires_at``; an expired lease frees the task."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="leases")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "annotator"], name="one_lease_per_annotator")
        ]
        indexes = [models.Index(fields=["expires_at"])]


class Annotation(models.Model):
    """L_i^(t): the candidates an annotator judged similar to the anchor (may be empty)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    selected = models.ManyToManyField(Sticker, related_name="+", blank=True)
    duration_ms = models.PositiveIntegerField(null=True)
    submission_id = models.CharField(max_length=64, blank=True)  # client key for idempotency
    created_at = models.DateTimeField(auto_now_add=True)
    # The task's campaign and iteration, copied by a database trigger on every insert and
    # update (migration 0006: whatever the application sends is replaced), never written by
    # the application. The campaign page's statistics read a campaign's answers from the
    # indexes below alone instead of joining them to its tasks (2,000,000 on a big campaign:
    # issue 14). Facts of the row, not tallies: nothing here counts anything.
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+",
                                 db_index=False, editable=False)
    iteration = models.PositiveSmallIntegerField(editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "annotator"], name="one_annotation_per_task")
        ]
        indexes = [
            # The repeat check finds a retried submission by its key without reading every
            # answer of the annotator.
            models.Index(fields=["annotator", "submission_id"]),
            # The median duration per annotator (annotation.stats), read at its offset in the
            # index, not sorted. The other statistics read the counts that migration 0008's
            # triggers keep, which replaced the (campaign, task) index they scanned.
            models.Index(fields=["campaign", "annotator", "duration_ms"],
                         name="annotation_campaign_pace_idx"),
        ]


class Skip(models.Model):
    """An "I can't judge" answer: recorded for audit, counts for nothing in the pair rules."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="skips")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True)
    # The task's campaign and iteration, copied by the trigger that fills Annotation's.
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+",
                                 db_index=False, editable=False)
    iteration = models.PositiveSmallIntegerField(editable=False)

    class Meta:
        # Skips per iteration and per annotator (annotation.stats) without the tasks.
        indexes = [models.Index(fields=["campaign", "annotator"], include=["iteration"],
                                name="annotation_skip_campaign_idx")]
