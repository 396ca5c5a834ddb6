"""Admin for Sticktionary: players, games (their settings), rounds with their queries and
picks, and the review of failed rounds as actions (the keyboard page is /play/<game>/review/)."""

from django.contrib import admin, messages
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html

from annotation.errors import InputError
from audit.models import AuditEvent
from audit.services import audit_record
from game.models import Game, Player, Round, RoundPick, RoundQuery
from game.services.games import game_change, game_settings
from game.services.review import Decision, round_review


@admin.register(Player)
class PlayerAdmin(admin.ModelAdmin):
    list_display = ("user", "language", "created_at")
    list_filter = ("language",)
    search_fields = ("user__username",)


@admin.register(Game)
class GameAdmin(admin.ModelAdmin):
    list_display = ("name", "labelers_per_sticker", "candidate_count", "encoder_version",
                    "lease_seconds", "pages")

    @admin.display(description="pages")
    def pages(self, obj: Game) -> str:
        return format_html('<a href="{}">statistics</a> · <a href="{}">review</a>',
                           reverse("game-stats", args=[obj.name]),
                           reverse("game-review", args=[obj.name]))

    def save_model(self, request, obj, form, change) -> None:
        """Saves the form and writes the audit trail: the creation, or the changed fields."""
        before = (game_settings(Game.objects.get(pk=obj.pk)) if change and obj.pk else None)
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if before is not None:
                game_change(game=obj, before=before, actor=request.user)
            else:
                audit_record(action=AuditEvent.Action.GAME_CREATE, actor=request.user,
                             target=f"game {obj.name}", details=game_settings(obj))


class RoundQueryInline(admin.TabularInline):
    model = RoundQuery
    fields = ("role", "position", "text", "author", "query")
    readonly_fields = fields
    extra = 0
    can_delete = False


class RoundPickInline(admin.TabularInline):
    model = RoundPick
    fields = ("rank", "sticker")
    readonly_fields = fields
    extra = 0
    can_delete = False


def _review(modeladmin, request, queryset, decision: str) -> None:
    done = 0
    for round_ in queryset.filter(review=Round.Review.PENDING):
        try:
            round_review(reviewer=request.user, round_id=round_.pk, decision=decision)
            done += 1
        except InputError as exc:
            modeladmin.message_user(request, str(exc), messages.ERROR)
    modeladmin.message_user(request, f"{done} round(s): {decision}")


@admin.action(description="Accept the queries of the selected failed rounds")
def accept_rounds(modeladmin, request, queryset) -> None:
    _review(modeladmin, request, queryset, Decision.ACCEPT)


@admin.action(description="Discard the queries of the selected failed rounds")
def discard_rounds(modeladmin, request, queryset) -> None:
    _review(modeladmin, request, queryset, Decision.DISCARD)


@admin.register(Round)
class RoundAdmin(admin.ModelAdmin):
    list_display = ("id", "game", "sticker", "language", "labeler", "retriever", "status",
                    "review", "retrieved_at")
    list_filter = ("game", "language", "status", "review")
    search_fields = ("sticker__sticker_id", "labeler__username", "retriever__username")
    raw_id_fields = ("sticker", "labeler", "retriever", "reviewed_by")
    readonly_fields = ("candidates",)
    inlines = [RoundQueryInline, RoundPickInline]
    actions = [accept_rounds, discard_rounds]
