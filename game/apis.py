"""REST API of Sticktionary: the player's language, label and retrieve rounds, outcomes, the
leaderboard, the review queue, and the library's text search.

Views parse input (serializers bound every field), check access, call one service or selector
and format the result; errors a player can fix are ``InputError`` -> 400 naming the field.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.apis import IsAnnotator
from annotation.errors import InputError
from annotation.services.assignment import MAX_BIGINT
from game.models import Game, Language, Round
from game.selectors import (
    label_view,
    leaderboard,
    player_points,
    retrieve_view,
    review_queue,
    round_outcome,
    sticker_card,
)
from game.services import rounds
from game.services.review import Decision, round_review
from game.services.search import SEARCH_MAX_K, stickers_search

LANGUAGE = serializers.ChoiceField(choices=Language.choices, required=False, help_text=(
    "the caller's language, checked against their profile: the game never mixes languages"))
SUBMISSION_ID = serializers.CharField(required=False, default="", allow_blank=True,
                                      max_length=rounds.MAX_SUBMISSION_ID)


class GamePlayerSerializer(serializers.Serializer):
    language = serializers.ChoiceField(choices=Language.choices)


class GameNextSerializer(serializers.Serializer):
    language = LANGUAGE


class GameLabelSerializer(serializers.Serializer):
    language = LANGUAGE
    # Bounded here (a body of 10,000 queries is refused by size); the service's rules (empty,
    # over-long, how many) answer with their own messages.
    queries = serializers.ListField(child=serializers.CharField(
        allow_blank=True, trim_whitespace=False, max_length=1000), max_length=50)
    submission_id = SUBMISSION_ID


class GameSuggestSerializer(serializers.Serializer):
    language = LANGUAGE
    queries = serializers.ListField(child=serializers.CharField(
        allow_blank=True, trim_whitespace=False, max_length=1000), max_length=50)


class GameRetrieveSerializer(serializers.Serializer):
    language = LANGUAGE
    picks = serializers.ListField(child=serializers.CharField(max_length=255), max_length=20,
                                  allow_empty=True, help_text="sticker ids, best first (<= 3)")
    submission_id = SUBMISSION_ID


class GameReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Decision.ALL)
    fixes = serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=1000),
                                  required=False, default=dict,
                                  help_text="round query id -> corrected text ('' drops it)")


class GameSearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=1000, trim_whitespace=False, allow_blank=True)
    language = serializers.ChoiceField(choices=Language.choices)
    k = serializers.IntegerField(required=False, default=10, min_value=1,
                                 max_value=SEARCH_MAX_K)


def _data(serializer_class: type[serializers.Serializer], data) -> dict:
    s = serializer_class(data=data)
    s.is_valid(raise_exception=True)
    return s.validated_data


def _round_id(round_id: int) -> int:
    if not 0 < round_id <= MAX_BIGINT:
        raise Http404(f"no round {round_id}")
    return round_id


def _game(name: str) -> Game:
    return get_object_or_404(Game, name=name)


ANY = inline_serializer("GameAny", {"detail": serializers.CharField(required=False)})


class PlayerApi(APIView):
    """The caller's game profile: the language they play in."""

    permission_classes = [IsAnnotator]

    @extend_schema(responses=GamePlayerSerializer)
    def get(self, request: Request) -> Response:
        player = rounds.player_for(user=request.user)
        return Response({"language": player.language})

    @extend_schema(request=GamePlayerSerializer, responses=GamePlayerSerializer)
    def post(self, request: Request) -> Response:
        data = _data(GamePlayerSerializer, request.data)
        player = rounds.player_set_language(user=request.user, language=data["language"])
        return Response({"language": player.language})


class LabelNextApi(APIView):
    """A sticker to label (the caller's round in progress first); 204 when none is left."""

    permission_classes = [IsAnnotator]

    @extend_schema(request=GameNextSerializer, responses={200: ANY, 204: None})
    def post(self, request: Request, name: str) -> Response:
        data = _data(GameNextSerializer, request.data)
        _game(name)
        round_ = rounds.label_next(user=request.user, game_name=name,
                                   language=data.get("language"))
        if round_ is None:
            return Response(status=204)
        return Response(label_view(round_=round_))


class LabelSubmitApi(APIView):
    """The labeler's queries for their round (a resend stores nothing more)."""

    permission_classes = [IsAnnotator]

    @extend_schema(request=GameLabelSerializer, responses={200: ANY, 201: ANY})
    def post(self, request: Request, round_id: int) -> Response:
        data = _data(GameLabelSerializer, request.data)
        stored = rounds.label_submit(
            user=request.user, round_id=_round_id(round_id), queries=data["queries"],
            language=data.get("language"), submission_id=data["submission_id"])
        return Response({"round_id": stored.round.pk, "status": stored.round.status,
                         "created": stored.created}, status=201 if stored.created else 200)


class LabelSkipApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(request=None, responses=ANY)
    def post(self, request: Request, round_id: int) -> Response:
        round_ = rounds.label_skip(user=request.user, round_id=_round_id(round_id))
        return Response({"round_id": round_.pk, "status": round_.status})


class RetrieveNextApi(APIView):
    """A round to retrieve: the labeler's queries and the grid; 204 when none waits."""

    permission_classes = [IsAnnotator]

    @extend_schema(request=GameNextSerializer, responses={200: ANY, 204: None})
    def post(self, request: Request, name: str) -> Response:
        data = _data(GameNextSerializer, request.data)
        _game(name)
        round_ = rounds.retrieve_next(user=request.user, game_name=name,
                                      language=data.get("language"))
        if round_ is None:
            return Response(status=204)
        return Response(retrieve_view(round_=round_))


class RetrieveSubmitApi(APIView):
    """The retriever's ranked picks; answers with the outcome (the reveal)."""

    permission_classes = [IsAnnotator]

    @extend_schema(request=GameRetrieveSerializer, responses={200: ANY, 201: ANY})
    def post(self, request: Request, round_id: int) -> Response:
        data = _data(GameRetrieveSerializer, request.data)
        stored = rounds.retrieve_submit(
            user=request.user, round_id=_round_id(round_id), picks=data["picks"],
            language=data.get("language"), submission_id=data["submission_id"])
        return Response({**round_outcome(round_=stored.round), "created": stored.created},
                        status=201 if stored.created else 200)


class RetrieveSuggestApi(APIView):
    """The retriever's own queries for the target, after the reveal."""

    permission_classes = [IsAnnotator]

    @extend_schema(request=GameSuggestSerializer, responses=ANY)
    def post(self, request: Request, round_id: int) -> Response:
        data = _data(GameSuggestSerializer, request.data)
        stored = rounds.retrieve_suggest(user=request.user, round_id=_round_id(round_id),
                                         queries=data["queries"],
                                         language=data.get("language"))
        return Response({"round_id": round_id, "suggestions": [q.text for q in stored]})


class RetrieveSkipApi(APIView):
    permission_classes = [IsAnnotator]

    @extend_schema(request=None, responses=ANY)
    def post(self, request: Request, round_id: int) -> Response:
        round_ = rounds.retrieve_skip(user=request.user, round_id=_round_id(round_id))
        return Response({"round_id": round_.pk, "status": round_.status})


class RoundOutcomeApi(APIView):
    """A finished round's outcome, for its labeler, its retriever and staff."""

    permission_classes = [IsAnnotator]

    @extend_schema(responses=ANY)
    def get(self, request: Request, round_id: int) -> Response:
        round_ = get_object_or_404(Round.objects.select_related("sticker"),
                                   pk=_round_id(round_id))
        if not (request.user.is_staff or request.user.pk in (round_.labeler_id,
                                                             round_.retriever_id)):
            raise Http404(f"no round {round_id}")
        if round_.status != Round.Status.DONE:
            raise InputError(f"round {round_id}", "not retrieved yet")
        return Response(round_outcome(round_=round_))


class LeaderboardApi(APIView):
    """Players of one language by points (from the stored rounds), and the caller's own."""

    permission_classes = [IsAnnotator]

    @extend_schema(parameters=[GameNextSerializer], responses=ANY)
    def get(self, request: Request, name: str) -> Response:
        game = _game(name)
        data = _data(GameNextSerializer, request.query_params)
        language = data.get("language") or rounds.player_for(user=request.user).language
        return Response({"language": language,
                         "players": leaderboard(game=game, language=language),
                         "my_points": player_points(game=game, user=request.user,
                                                    language=language)})


class ReviewQueueApi(APIView):
    """Failed rounds waiting for an admin (staff only)."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses=ANY)
    def get(self, request: Request, name: str) -> Response:
        return Response({"rounds": review_queue(game=_game(name))})


class ReviewApi(APIView):
    """Accept (with typo fixes) or discard a failed round (staff only)."""

    permission_classes = [IsAdminUser]

    @extend_schema(request=GameReviewSerializer, responses=ANY)
    def post(self, request: Request, round_id: int) -> Response:
        data = _data(GameReviewSerializer, request.data)
        try:
            fixes = {int(k): v for k, v in data["fixes"].items()}
        except ValueError:
            raise InputError("fixes", "keys are round query ids") from None
        round_ = round_review(reviewer=request.user, round_id=_round_id(round_id),
                              decision=data["decision"], fixes=fixes)
        return Response({"round_id": round_.pk, "review": round_.review})


class StickerSearchApi(APIView):
    """BM25 over each sticker's queries in one language (the labeler's preview uses it),
    blended with the encoder's text tower for stickers without queries once term vectors are
    computed (``source``: "bm25" or "tower")."""

    permission_classes = [IsAnnotator]

    @extend_schema(parameters=[GameSearchQuerySerializer], responses=ANY)
    def get(self, request: Request) -> Response:
        data = _data(GameSearchQuerySerializer, request.query_params)
        hits = stickers_search(text=data["q"], language=data["language"], k=data["k"])
        return Response({"q": data["q"], "language": data["language"],
                         "results": [{**sticker_card(h.sticker), "score": round(h.score, 4),
                                      "source": h.source} for h in hits]})
