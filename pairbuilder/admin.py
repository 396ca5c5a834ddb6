"""Django admin for pair builds, pairs, review decisions and snapshots (read-mostly)."""

from django.contrib import admin

from pairbuilder.models import Pair, PairBuild, PairReview, Snapshot


@admin.register(PairBuild)
class PairBuildAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "status", "progress", "annotation_count", "created_at",
                    "finished_at")
    list_filter = ("status",)
    search_fields = ("campaign__name",)
    readonly_fields = ("created_at", "finished_at")


@admin.register(Pair)
class PairAdmin(admin.ModelAdmin):
    list_display = ("id", "build", "sticker_a", "sticker_b", "label", "co_selected",
                    "co_displayed", "query_overlap", "text_cosine")
    list_filter = ("label",)
    search_fields = ("sticker_a__sticker_id", "sticker_b__sticker_id")
    raw_id_fields = ("build", "sticker_a", "sticker_b")  # millions of rows: no dropdowns
    list_select_related = ("sticker_a", "sticker_b")


@admin.register(PairReview)
class PairReviewAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "sticker_a", "sticker_b", "label", "decision", "reviewer",
                    "decided_at")
    list_filter = ("decision", "label")
    raw_id_fields = ("sticker_a", "sticker_b", "reviewer")
    list_select_related = ("campaign", "sticker_a", "sticker_b", "reviewer")


@admin.register(Snapshot)
class SnapshotAdmin(admin.ModelAdmin):
    list_display = ("number", "campaign", "build", "status", "created_at", "archive")
    list_filter = ("status",)
    # A snapshot never changes: everything is read-only here.
    readonly_fields = ("number", "campaign", "build", "params", "status", "path", "archive",
                       "manifest", "error", "created_at")
