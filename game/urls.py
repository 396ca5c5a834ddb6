"""URL routes of Sticktionary's API (under /api/)."""
from django.urls import path

from game import apis

urlpatterns = [
    path("stickers/search/", apis.StickerSearchApi.as_view(), name="api-sticker-search"),
    path("game/player/", apis.PlayerApi.as_view(), name="api-game-player"),
    path("games/<str:name>/label/next/", apis.LabelNextApi.as_view(), name="api-game-label-next"),
    path("games/<str:name>/retrieve/next/", apis.RetrieveNextApi.as_view(),
         name="api-game-retrieve-next"),
    path("games/<str:name>/leaderboard/", apis.LeaderboardApi.as_view(),
         name="api-game-leaderboard"),
    path("games/<str:name>/review/", apis.ReviewQueueApi.as_view(), name="api-game-review-queue"),
    path("rounds/<int:round_id>/label/", apis.LabelSubmitApi.as_view(), name="api-round-label"),
    path("rounds/<int:round_id>/label/skip/", apis.LabelSkipApi.as_view(),
         name="api-round-label-skip"),
    path("rounds/<int:round_id>/retrieve/", apis.RetrieveSubmitApi.as_view(),
         name="api-round-retrieve"),
    path("rounds/<int:round_id>/suggest/", apis.RetrieveSuggestApi.as_view(),
         name="api-round-suggest"),
    path("rounds/<int:round_id>/retrieve/skip/", apis.RetrieveSkipApi.as_view(),
         name="api-round-retrieve-skip"),
    path("rounds/<int:round_id>/", apis.RoundOutcomeApi.as_view(), name="api-round-outcome"),
    path("rounds/<int:round_id>/review/", apis.ReviewApi.as_view(), name="api-round-review"),
]
