"""Sticktionary pages rendered by the Django test client: the language choice, the leaderboard
per language, the review page for staff only."""

from __future__ import annotations

import pytest

from game.models import Player
from game.services.rounds import label_next, label_submit, retrieve_next, retrieve_submit
from tests.annotation.campaign_factory import annotator_create
from tests.game.factories import game_create, player_create, stickers_create

pytestmark = pytest.mark.django_db


def test_a_new_player_chooses_a_language_before_playing(client):
    # given
    game_create(name="g")
    client.force_login(annotator_create("new"))
    # when
    page = client.get("/play/g/")
    # then: the language form, then the game page once chosen
    assert b'id="language-form"' in page.content and b'id="game"' not in page.content
    client.post("/play/g/", {"language": "zh"})
    assert Player.objects.get().language == "zh"
    assert b'data-language="zh"' in client.get("/play/g/").content


def test_the_leaderboard_has_one_table_per_language(client):
    stickers_create(10)
    game = game_create(name="g")
    a, b = player_create("alice"), player_create("bob")
    r = label_next(user=a, game_name="g")
    label_submit(user=a, round_id=r.pk, queries=["hug"])
    held = retrieve_next(user=b, game_name="g")
    retrieve_submit(user=b, round_id=held.pk, picks=[r.sticker.sticker_id])
    client.force_login(a)
    html = client.get(f"/play/{game.name}/leaderboard/").content.decode()
    en = html[html.index('id="leaderboard-en"'):html.index('id="leaderboard-zh"')]
    assert "alice" in en and "bob" in en and "<td>3</td>" in en
    assert "No round played in this language yet" in html[html.index('id="leaderboard-zh"'):]


def test_the_review_page_is_for_staff(client):
    game_create(name="g")
    client.force_login(player_create("p"))
    assert client.get("/play/g/review/").status_code == 302  # to the admin login
    client.force_login(player_create("boss", staff=True))
    assert b"No failed round waits for review" in client.get("/play/g/review/").content


def test_play_goes_straight_into_the_only_game_and_lists_several(client):
    from django.core.management import call_command

    client.force_login(player_create("p"))
    assert b"No game yet" in client.get("/play/").content
    call_command("create_game", "first", "--labelers-per-sticker", "2")
    assert client.get("/play/").url == "/play/first/"
    call_command("create_game", "second")
    assert b"/play/second/" in client.get("/play/").content
