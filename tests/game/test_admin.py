"""The Django admin of Sticktionary: rounds listed with their queries and picks, and the
review actions accept and discard on failed rounds."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from annotation.models import Query
from game.models import Round
from game.services.rounds import label_next, label_submit, retrieve_next, retrieve_submit
from tests.game.factories import game_create, player_create, stickers_create

pytestmark = pytest.mark.django_db


def _failed_round(game, labeler: str, retriever: str, text: str) -> Round:
    a, b = player_create(labeler), player_create(retriever)
    r = label_next(user=a, game_name=game.name)
    label_submit(user=a, round_id=r.pk, queries=[text])
    held = retrieve_next(user=b, game_name=game.name)
    retrieve_submit(user=b, round_id=held.pk, picks=[])
    return r


def test_admin_lists_rounds_and_accepts_or_discards_failed_ones(client):
    # given two failed rounds
    stickers_create(10)
    game = game_create()
    kept = _failed_round(game, "a", "b", "whatever")
    dropped = _failed_round(game, "c", "d", "yellow cat")
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-root-123"))
    # then the pages render
    assert client.get("/admin/game/round/").status_code == 200
    assert b"whatever" in client.get(f"/admin/game/round/{kept.pk}/change/").content
    # when the admin accepts one and discards the other
    for action, round_ in (("accept_rounds", kept), ("discard_rounds", dropped)):
        client.post("/admin/game/round/", {"action": action, "_selected_action": [round_.pk]})
    # then
    assert list(Query.objects.values_list("normalized", "source")) == [("whatever", "game")]
    assert Round.objects.get(pk=dropped.pk).review == Round.Review.DISCARDED
