"""Django admin for encoder versions and sticker embeddings (read-mostly: rows come from
services, so the admin shows them and lets a curator fix a label, not forge metrics)."""
from django.contrib import admin

from encoder.models import (
    EncoderJob,
    EncoderJobChunk,
    EncoderVersion,
    SimilarityJob,
    StickerEmbedding,
)


@admin.register(EncoderVersion)
class EncoderVersionAdmin(admin.ModelAdmin):
    list_display = ("version", "kind", "status", "progress", "snapshot", "threshold",
                    "gse_f1", "base_f1", "created_at")
    list_filter = ("kind", "status")
    search_fields = ("version", "model_name")
    readonly_fields = ("version", "kind", "model_name", "model_config", "pretrained",
                       "checkpoint", "snapshot", "train_config", "metrics", "threshold",
                       "report_dir", "status", "progress", "error", "created_at")

    @admin.display(description="GSE F1")
    def gse_f1(self, obj: EncoderVersion) -> float | None:
        return (obj.metrics or {}).get("gse", {}).get("f1")

    @admin.display(description="base F1")
    def base_f1(self, obj: EncoderVersion) -> float | None:
        return (obj.metrics or {}).get("base", {}).get("f1")


@admin.register(StickerEmbedding)
class StickerEmbeddingAdmin(admin.ModelAdmin):
    list_display = ("sticker", "encoder_version", "dim", "created_at")
    list_filter = ("encoder_version",)
    search_fields = ("sticker__sticker_id", "encoder_version__version")
    list_select_related = ("sticker", "encoder_version")
    readonly_fields = ("sticker", "encoder_version", "dim", "vector", "created_at")
    raw_id_fields = ("sticker",)


class EncoderJobChunkInline(admin.TabularInline):
    model = EncoderJobChunk
    extra = 0
    can_delete = False
    fields = readonly_fields = ("first_id", "last_id", "status", "worker", "runs", "rows",
                                "started_at", "finished_at", "seconds", "error")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(EncoderJob)
class EncoderJobAdmin(admin.ModelAdmin):
    """Embedding and retrieval jobs with their chunks: who ran what, how often, how long."""

    list_display = ("pk", "kind", "encoder_version", "campaign", "iteration", "status",
                    "chunk_size", "created_at", "finished_at")
    list_filter = ("kind", "status")
    list_select_related = ("encoder_version", "campaign")
    readonly_fields = ("kind", "encoder_version", "campaign", "iteration", "chunk_size",
                       "status", "error", "created_at", "finished_at")
    inlines = [EncoderJobChunkInline]


@admin.register(SimilarityJob)
class SimilarityJobAdmin(admin.ModelAdmin):
    list_display = ("pk", "encoder_version", "status", "cosine", "requested_by", "created_at",
                    "finished_at")
    list_filter = ("status",)
    list_select_related = ("encoder_version", "requested_by")
    readonly_fields = ("encoder_version", "sticker_a", "name_a", "sticker_b", "name_b",
                       "requested_by", "status", "cosine", "error", "created_at", "finished_at")
    exclude = ("file_a", "file_b")
