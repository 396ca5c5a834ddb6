"""Sticktionary's API: a round each way over HTTP, and bad input answered with a clear 4xx that
stores nothing (issue 11's acceptance)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotation.models import Query
from game.models import Player, Round, RoundPick, RoundQuery
from tests.annotation.campaign_factory import annotator_create
from tests.game.factories import game_create, player_create, queries_add, stickers_create

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def game():
    stickers_create(12)
    return game_create()


@pytest.fixture
def labeler(game):
    return _client(player_create("lab"))


@pytest.fixture
def retriever(game):
    return _client(player_create("ret"))


def _label(client: APIClient, game, queries: list[str], **extra) -> dict:
    round_ = client.post(f"/api/games/{game.name}/label/next/", {}, format="json").json()
    response = client.post(f"/api/rounds/{round_['round_id']}/label/",
                           {"queries": queries, **extra}, format="json")
    assert response.status_code == 201, response.json()
    return round_


def test_a_round_over_http_success_adds_the_queries(game, labeler, retriever):
    # given: the labeler's round
    shown = labeler.post(f"/api/games/{game.name}/label/next/", {"language": "en"},
                         format="json").json()
    assert shown["sticker"]["url"].startswith("/media/")
    labeler.post(f"/api/rounds/{shown['round_id']}/label/",
                 {"queries": ["facepalm"], "language": "en", "submission_id": "s1"},
                 format="json")
    # when the retriever ranks the target first
    grid = retriever.post(f"/api/games/{game.name}/retrieve/next/", {}, format="json").json()
    assert grid["queries"] == ["facepalm"] and len(grid["candidates"]) == 9
    target = shown["sticker"]["sticker_id"]
    out = retriever.post(f"/api/rounds/{grid['round_id']}/retrieve/", {"picks": [target]},
                         format="json")
    # then: the outcome and points, the query on the sticker with source game
    assert out.status_code == 201
    body = out.json()
    assert (body["success"], body["rank"], body["points"]["retriever"]) == (True, 1, 3)
    assert Query.objects.get(normalized="facepalm").source == "game"
    board = labeler.get(f"/api/games/{game.name}/leaderboard/").json()
    assert board["my_points"] == 3 and {p["username"] for p in board["players"]} == {"lab",
                                                                                       "ret"}
    # and nothing more to retrieve for anyone: 204
    assert retriever.post(f"/api/games/{game.name}/retrieve/next/", {},
                          format="json").status_code == 204


@pytest.mark.parametrize(("queries", "message"), [
    ([], "type at least one query"),
    (["   "], "query 1 is empty"),
    (["ok", ""], "query 2 is empty"),
    (["x" * 101], "longer than 100 characters"),
])
def test_an_empty_or_over_long_query_is_refused_and_stores_nothing(game, labeler, queries,
                                                                   message):
    round_ = labeler.post(f"/api/games/{game.name}/label/next/", {}, format="json").json()
    response = labeler.post(f"/api/rounds/{round_['round_id']}/label/", {"queries": queries},
                            format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "queries" and message in response.json()["detail"]
    assert not RoundQuery.objects.exists()
    assert Round.objects.get().status == Round.Status.LABELING


def test_a_language_that_is_not_the_players_is_refused(game, labeler):
    # when an English player asks for, or submits, Chinese
    asked = labeler.post(f"/api/games/{game.name}/label/next/", {"language": "zh"},
                         format="json")
    # then 400 naming the language, and no round was started
    assert asked.status_code == 400 and asked.json()["field"] == "language"
    assert not Round.objects.exists()
    round_ = labeler.post(f"/api/games/{game.name}/label/next/", {}, format="json").json()
    sent = labeler.post(f"/api/rounds/{round_['round_id']}/label/",
                        {"queries": ["你好"], "language": "zh"}, format="json")
    assert sent.status_code == 400 and "you play in 'en'" in sent.json()["detail"]
    assert not RoundQuery.objects.exists()


def test_a_player_without_a_language_is_told_to_choose_one(game):
    client = _client(annotator_create("newbie"))
    response = client.post(f"/api/games/{game.name}/label/next/", {}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "player"
    assert client.post("/api/game/player/", {"language": "zh"},
                       format="json").json() == {"language": "zh"}
    assert Player.objects.get().language == "zh"


@pytest.mark.parametrize(("picks", "message"), [
    ("outside", "not among this round's candidates"),
    ("four", "at most 3 picks"),
    ("repeat", "each sticker at most once"),
])
def test_bad_picks_are_refused_and_store_nothing(game, labeler, retriever, picks, message):
    _label(labeler, game, ["wave"])
    grid = retriever.post(f"/api/games/{game.name}/retrieve/next/", {}, format="json").json()
    ids = [c["sticker_id"] for c in grid["candidates"]]
    picks = {"outside": ["not-a-candidate.png"], "four": ids[:4],
             "repeat": [ids[0], ids[0]]}[picks]
    response = retriever.post(f"/api/rounds/{grid['round_id']}/retrieve/", {"picks": picks},
                              format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "picks" and message in response.json()["detail"]
    assert not RoundPick.objects.exists()
    assert Round.objects.get().status == Round.Status.RETRIEVING


def test_a_sticker_of_the_library_that_is_not_on_the_grid_is_refused(game, labeler, retriever):
    _label(labeler, game, ["wave"])
    grid = retriever.post(f"/api/games/{game.name}/retrieve/next/", {}, format="json").json()
    on_grid = {c["sticker_id"] for c in grid["candidates"]}
    elsewhere = next(s for s in (f"g{i:03d}.png" for i in range(12)) if s not in on_grid)
    response = retriever.post(f"/api/rounds/{grid['round_id']}/retrieve/",
                              {"picks": [elsewhere]}, format="json")
    assert response.status_code == 400 and not RoundPick.objects.exists()


def test_someone_elses_round_is_refused(game, labeler, retriever):
    round_ = labeler.post(f"/api/games/{game.name}/label/next/", {}, format="json").json()
    response = retriever.post(f"/api/rounds/{round_['round_id']}/label/",
                              {"queries": ["mine now"]}, format="json")
    assert response.status_code == 400 and "not yours" in response.json()["detail"]
    assert retriever.post("/api/rounds/999999/label/", {"queries": ["x"]},
                          format="json").status_code == 404


def test_review_is_for_staff_and_accept_adds_the_queries(game, labeler, retriever):
    shown = _label(labeler, game, ["helo"])
    grid = retriever.post(f"/api/games/{game.name}/retrieve/next/", {}, format="json").json()
    miss = [c["sticker_id"] for c in grid["candidates"]
            if c["sticker_id"] != shown["sticker"]["sticker_id"]][:1]
    retriever.post(f"/api/rounds/{grid['round_id']}/retrieve/", {"picks": miss}, format="json")
    assert retriever.get(f"/api/games/{game.name}/review/").status_code == 403
    admin = _client(player_create("boss", staff=True))
    queue = admin.get(f"/api/games/{game.name}/review/").json()["rounds"]
    query_id = queue[0]["queries"][0]["id"]
    done = admin.post(f"/api/rounds/{grid['round_id']}/review/",
                      {"decision": "accept", "fixes": {str(query_id): "hello"}}, format="json")
    assert done.json()["review"] == "accepted"
    assert list(Query.objects.values_list("text", "source")) == [("hello", "game")]


def test_search_finds_stickers_by_their_queries_and_stays_fresh(game, labeler):
    # given: two stickers with queries
    from annotation.models import Sticker

    s0, s1 = Sticker.objects.order_by("pk")[:2]
    queries_add(s0, "good job", "thumbs up")
    queries_add(s1, "good night", "sleepy")
    hits = labeler.get("/api/stickers/search/", {"q": "good job", "language": "en"}).json()
    assert [h["sticker_id"] for h in hits["results"]] == [s0.sticker_id, s1.sticker_id]
    # when a query arrives, the next search sees it
    queries_add(s1, "job well done")
    hits = labeler.get("/api/stickers/search/", {"q": "well done", "language": "en"}).json()
    assert [h["sticker_id"] for h in hits["results"]] == [s1.sticker_id]
    # and bad input is a 400 naming the parameter
    assert labeler.get("/api/stickers/search/", {"q": " ", "language": "en"}).json()[
        "field"] == "q"
    assert labeler.get("/api/stickers/search/", {"q": "x", "language": "fr"}).status_code == 400


def test_chinese_search_is_tokenised_with_jieba(game, labeler):
    from annotation.models import Sticker

    s0, s1 = Sticker.objects.order_by("pk")[:2]
    queries_add(s0, "你说得对", "我赞同", language="zh")
    queries_add(s1, "吃瓜", language="zh")
    hits = labeler.get("/api/stickers/search/", {"q": "赞同", "language": "zh"}).json()
    assert [h["sticker_id"] for h in hits["results"]] == [s0.sticker_id]


def test_a_query_that_normalisation_blows_up_is_refused(game, labeler):
    # given: "ﷺ" is one character that NFKC turns into 18
    round_ = labeler.post(f"/api/games/{game.name}/label/next/", {}, format="json").json()
    # when 60 of them are sent (60 characters, 1,080 once normalised)
    response = labeler.post(f"/api/rounds/{round_['round_id']}/label/",
                            {"queries": ["ﷺ" * 60]}, format="json")
    # then a 400, not a database error
    assert response.status_code == 400 and "too long once normalised" in response.json()["detail"]
    assert not RoundQuery.objects.exists()
