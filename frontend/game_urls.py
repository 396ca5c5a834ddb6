"""Routes of the Sticktionary pages (under /play/)."""
from django.urls import path

from frontend.views import game

urlpatterns = [
    path("", game.games, name="game-list"),
    path("<str:name>/", game.play, name="game-play"),
    path("<str:name>/leaderboard/", game.leaderboard, name="game-leaderboard"),
    path("<str:name>/review/", game.review, name="game-review"),
    path("<str:name>/stats/", game.stats, name="game-stats"),
]
