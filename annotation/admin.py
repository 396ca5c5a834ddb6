"""Admin for the annotation app.

Sticker library first (stickers, queries); campaign and task admin follow below.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from annotation.models import (
    Annotation,
    Campaign,
    Candidate,
    CandidateSet,
    Lease,
    Query,
    Skip,
    Sticker,
    Task,
)
from annotation.selectors import annotators_group

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
# Registered by the annotation-campaign work (issue 3). Annotator accounts: create the user in
# "Users", then add it to the "annotators" group (created on first use by
# annotation.selectors.annotators_group); an API token for scripts is made under "Tokens".


class CandidateInline(admin.TabularInline):
    model = Candidate
    extra = 0
    fields = ("rank", "sticker", "score")
    raw_id_fields = ("sticker",)


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "annotators_per_task", "candidate_count", "lease_seconds",
                    "iteration2_source", "created_at", "campaign_page")
    search_fields = ("name",)

    @admin.display(description="page")
    def campaign_page(self, obj: Campaign) -> str:
        return format_html('<a href="{}">progress &amp; agreement</a>',
                           reverse("campaign", args=[obj.name]))

    def save_model(self, request, obj, form, change) -> None:
        from annotation.services.campaigns import campaign_change, campaign_settings
        from audit.models import AuditEvent
        from audit.services import audit_record

        annotators_group()  # so the group is there to pick when the admin adds annotators
        before = (campaign_settings(Campaign.objects.get(pk=obj.pk)) if change and obj.pk
                  else None)
        super().save_model(request, obj, form, change)
        if before is not None:
            campaign_change(campaign=obj, before=before, actor=request.user)
        else:
            audit_record(action=AuditEvent.Action.CAMPAIGN_CREATE, actor=request.user,
                         campaign=obj, target=f"campaign {obj.name}",
                         details=campaign_settings(obj))


@admin.register(CandidateSet)
class CandidateSetAdmin(admin.ModelAdmin):
    list_display = ("pk", "campaign", "anchor", "iteration", "retrieval_view", "encoder_version")
    list_filter = ("campaign", "iteration", "retrieval_view")
    search_fields = ("anchor__sticker_id",)
    raw_id_fields = ("anchor",)
    list_select_related = ("campaign", "anchor")
    inlines = [CandidateInline]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("pk", "campaign", "anchor", "iteration", "status", "created_at")
    list_filter = ("campaign", "status", "iteration")
    search_fields = ("anchor__sticker_id",)
    raw_id_fields = ("anchor", "candidate_set")
    list_select_related = ("campaign", "anchor")


@admin.register(Lease)
class LeaseAdmin(admin.ModelAdmin):
    list_display = ("task", "annotator", "expires_at", "created_at")
    list_filter = ("task__campaign",)
    raw_id_fields = ("task",)
    list_select_related = ("task", "annotator")


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ("pk", "task", "annotator", "selected_count", "duration_ms", "created_at")
    list_filter = ("task__campaign", "task__iteration")
    search_fields = ("annotator__username", "task__anchor__sticker_id")
    raw_id_fields = ("task",)
    filter_horizontal = ("selected",)
    list_select_related = ("task", "annotator")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_selected=Count("selected"))

    @admin.display(description="selected", ordering="_selected")
    def selected_count(self, obj: Annotation) -> int:
        return obj._selected


@admin.register(Skip)
class SkipAdmin(admin.ModelAdmin):
    list_display = ("task", "annotator", "created_at")
    list_filter = ("task__campaign",)
    raw_id_fields = ("task",)
    list_select_related = ("task", "annotator")
