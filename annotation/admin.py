"""Admin for the annotation app.

Sticker library first (stickers, queries); campaign and task admin follow below.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from annotation.models import Query, Sticker

# --- Sticker library -------------------------------------------------------------------------


class QueryInline(admin.TabularInline):
    model = Query
    extra = 0
    fields = ("text", "normalized", "language", "source")
    readonly_fields = ("normalized",)


@admin.register(Sticker)
class StickerAdmin(admin.ModelAdmin):
    list_display = ("thumbnail", "sticker_id", "media_type", "is_animated", "frame_count",
                    "width", "height", "size_bytes", "created_at")
    list_display_links = ("thumbnail", "sticker_id")
    list_filter = ("media_type", "is_animated")
    search_fields = ("sticker_id", "content_hash")
    readonly_fields = ("thumbnail", "content_hash", "size_bytes", "width", "height",
                       "frame_count", "is_animated", "media_type", "created_at")
    inlines = [QueryInline]
    list_per_page = 100

    @admin.display(description="still")
    def thumbnail(self, obj: Sticker) -> str:
        """The still frame, small: what the encoder sees."""
        if not obj.still:
            return "-"
        return format_html('<img src="{}" alt="{}" style="max-height:48px;max-width:48px">',
                           obj.still.url, obj.sticker_id)


@admin.register(Query)
class QueryAdmin(admin.ModelAdmin):
    list_display = ("text", "normalized", "language", "source", "sticker")
    list_filter = ("language", "source")
    search_fields = ("normalized", "text", "sticker__sticker_id")
    list_select_related = ("sticker",)
    raw_id_fields = ("sticker",)


# --- Campaigns and tasks ---------------------------------------------------------------------
