"""Sticktionary pages: play (labeler and retriever, roles alternating), the leaderboard per
language, and the admin's keyboard review of failed rounds. Rounds, previews and picks go
through the JSON API (``game.apis``); these views only render the page around them."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie

from annotation.errors import InputError
from annotation.selectors import user_is_annotator
from game.models import Game, Language, Player
from game.selectors import leaderboard as leaderboard_rows
from game.selectors import player_points, review_queue
from game.services.rounds import player_set_language
from game.statistics import game_statistics, player_statistics, stickers_without_queries


@login_required
def games(request: HttpRequest) -> HttpResponse:
    """/play/: straight into the game when there is one, else the list."""
    rows = list(Game.objects.order_by("-created_at"))
    if len(rows) == 1:
        return redirect("game-play", name=rows[0].name)
    return render(request, "frontend/game/games.html", {"games": rows})


@login_required
@ensure_csrf_cookie  # the page's script reads the CSRF cookie for its POSTs to the API
def play(request: HttpRequest, name: str) -> HttpResponse:
    """The game page; a player without a language chooses one first (a form on the page)."""
    if not user_is_annotator(user=request.user):
        raise PermissionDenied("You are not in the annotators group; ask an admin to add you.")
    game = get_object_or_404(Game, name=name)
    if request.method == "POST":
        try:
            player_set_language(user=request.user, language=request.POST.get("language", ""))
        except InputError:
            pass  # the form shows again
        return redirect("game-play", name=game.name)
    player = Player.objects.filter(user=request.user).first()
    return render(request, "frontend/game/play.html", {
        "game": game, "player": player, "languages": Language.choices,
        "points": player_points(game=game, user=request.user, language=player.language)
        if player else 0,
    })


@login_required
def leaderboard(request: HttpRequest, name: str) -> HttpResponse:
    """Players by points, one table per language, from the stored rounds."""
    game = get_object_or_404(Game, name=name)
    boards = [{"language": code, "label": label,
               "players": leaderboard_rows(game=game, language=code)}
              for code, label in Language.choices]
    return render(request, "frontend/game/leaderboard.html", {"game": game, "boards": boards})


@staff_member_required
@ensure_csrf_cookie
def review(request: HttpRequest, name: str) -> HttpResponse:
    """Failed rounds, one at a time: A accept, E fix a typo, D discard."""
    game = get_object_or_404(Game, name=name)
    return render(request, "frontend/game/review.html", {
        "game": game, "rounds": review_queue(game=game)})


@staff_member_required
def stats(request: HttpRequest, name: str) -> HttpResponse:
    """Game statistics for admins (seed 002, Table 2), one column per language."""
    game = get_object_or_404(Game, name=name)
    languages = game_statistics(game=game)
    labels = dict(Language.choices)
    return render(request, "frontend/game/stats.html", {
        "game": game, "languages": [(labels.get(s.language, s.language), s) for s in languages],
        "histogram": [(bucket, [s.accepted_histogram[bucket] for s in languages])
                      for bucket in languages[0].accepted_histogram],
        "players": player_statistics(game=game),
        "empty": [(labels.get(s.language, s.language), s.stickers_without_queries,
                   stickers_without_queries(language=s.language)) for s in languages],
    })
