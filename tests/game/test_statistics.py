"""The game statistics page (seed 002, Table 2): its aggregate queries against a direct count
over the rows of a hand-made game, and the page for admins only, linked from the game's pages."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest
from django.contrib.auth import get_user_model

from annotation.models import Query, Sticker
from game.models import Round, RoundPick, RoundQuery, RoundSkip
from game.services.review import round_review
from game.services.rounds import (
    label_next,
    label_skip,
    label_submit,
    retrieve_next,
    retrieve_skip,
    retrieve_submit,
    retrieve_suggest,
)
from game.statistics import game_statistics, player_statistics, stickers_without_queries
from tests.game.factories import game_create, player_create, queries_add, stickers_create

pytestmark = pytest.mark.django_db


def _label(user, game, *texts) -> Round:
    r = label_next(user=user, game_name=game.name)
    label_submit(user=user, round_id=r.pk, queries=list(texts))
    return r


def _retrieve(user, game, *, rank: int | None) -> Round:
    """Retrieves the next round: the target at ``rank`` among the picks, or a miss (None)."""
    r = retrieve_next(user=user, game_name=game.name)
    others = Sticker.objects.filter(pk__in=r.candidates).exclude(pk=r.sticker_id)
    picks = [s.sticker_id for s in others[:2]]
    if rank is not None:
        picks.insert(rank - 1, Sticker.objects.get(pk=r.sticker_id).sticker_id)
    retrieve_submit(user=user, round_id=r.pk, picks=picks[:3])
    return r


@pytest.fixture
def played():
    """A game in both languages: successes at ranks 1 and 2, misses accepted and discarded, a
    suggestion, skips of both roles, a round still waiting, and a sticker given queries twice."""
    stickers = stickers_create(12)
    queries_add(stickers[11], "already known")  # a sticker with an imported query (en only)
    game = game_create(name="g", candidate_count=4)
    ann, ben, cat = (player_create(n) for n in ("ann", "ben", "cat"))
    dai, eve = player_create("dai", "zh"), player_create("eve", "zh")
    boss = get_user_model().objects.create_superuser("boss", "b@example.com", "pw-boss-123")
    _label(ann, game, "hello", "hi")
    _retrieve(ben, game, rank=1)
    missed = _label(cat, game, "helo")
    _retrieve(ben, game, rank=None)
    round_review(reviewer=boss, round_id=missed.pk, decision="accept")
    thrown = _label(ben, game, "yellow cat")
    _retrieve(ann, game, rank=None)
    round_review(reviewer=boss, round_id=thrown.pk, decision="discard")
    waiting = _label(ann, game, "bye")
    retrieve_skip(user=cat, round_id=retrieve_next(user=cat, game_name=game.name).pk)
    skipped = label_next(user=cat, game_name=game.name)
    label_skip(user=cat, round_id=skipped.pk)
    _label(dai, game, "你好")
    zh = _retrieve(eve, game, rank=2)
    retrieve_suggest(user=eve, round_id=zh.pk, queries=["嗨"])
    return {"game": game, "waiting": waiting, "stickers": stickers}


def _direct(game, language: str) -> dict:
    """The page's figures counted in Python over every row (the reference)."""
    rounds = list(Round.objects.filter(game=game, language=language))
    labeled = [r for r in rounds if r.labeled_at is not None]
    done = [r for r in rounds if r.status == Round.Status.DONE]
    found = [r for r in done if RoundPick.objects.filter(round=r, sticker=r.sticker).exists()]
    accepted: dict[int, set[int]] = defaultdict(set)
    for q in RoundQuery.objects.filter(round__in=rounds, query__isnull=False):
        accepted[q.round.sticker_id].add(q.query_id)
    sizes = Counter(min(len(v), 5) for v in accepted.values())
    return {
        "label_players": len({r.labeler_id for r in labeled}),
        "retrieve_players": len({r.retriever_id for r in done}),
        "rounds_labeled": len(labeled), "rounds_retrieved": len(done),
        "label_skips": sum(r.status == Round.Status.SKIPPED for r in rounds),
        "retrieve_skips": RoundSkip.objects.filter(round__in=rounds).count(),
        "successes": len(found),
        "review_pending": sum(r.review == Round.Review.PENDING for r in rounds),
        "review_accepted": sum(r.review == Round.Review.ACCEPTED for r in rounds),
        "review_discarded": sum(r.review == Round.Review.DISCARDED for r in rounds),
        "queries_accepted": sum(len(v) for v in accepted.values()),
        "stickers_with_accepted": len(accepted),
        "stickers_played": len({r.sticker_id for r in labeled}),
        "accepted_histogram": {b: sizes.get(i, 0) for i, b in
                               enumerate(["1", "2", "3", "4", "5+"], start=1)},
        "stickers_without_queries": sum(not s.queries.filter(language=language).exists()
                                        for s in Sticker.objects.all()),
    }


def test_the_statistics_equal_a_direct_count_over_the_rows(played):
    # when
    stats = {s.language: s for s in game_statistics(game=played["game"])}
    # then every figure matches the direct count, per language
    for language in ("en", "zh"):
        expected = _direct(played["game"], language)
        assert {k: getattr(stats[language], k) for k in expected} == expected, language
    # and the hand-made game's Table 2, counted by hand
    en, zh = stats["en"], stats["zh"]
    assert (en.label_players, en.retrieve_players) == (3, 2)  # ann, ben, cat / ben, ann
    assert (en.rounds_labeled, en.rounds_retrieved, en.successes) == (4, 3, 1)
    assert en.tasks_per_label_player == pytest.approx(4 / 3)
    assert en.tasks_per_retrieve_player == pytest.approx(3 / 2)
    assert en.success_rate == pytest.approx(1 / 3)
    assert (en.label_skips, en.retrieve_skips) == (1, 1)
    assert (en.review_pending, en.review_accepted, en.review_discarded) == (0, 1, 1)
    # hello, hi (found) and helo (accepted): 3 queries on 2 stickers
    assert (en.queries_accepted, en.stickers_with_accepted) == (3, 2)
    assert en.accepted_per_sticker == pytest.approx(1.5)
    assert en.accepted_histogram == {"1": 1, "2": 1, "3": 0, "4": 0, "5+": 0}
    assert en.stickers_without_queries == 12 - 1 - 2
    assert (zh.success_rate, zh.queries_accepted, zh.stickers_without_queries) == (1.0, 2, 11)


def test_rounds_per_player_equal_a_direct_count(played):
    rows = {(r["username"], r["language"]): r for r in player_statistics(game=played["game"])}
    for (name, language), row in rows.items():
        mine = Round.objects.filter(game=played["game"], language=language)
        labeled = mine.filter(labeler__username=name, labeled_at__isnull=False)
        retrieved = mine.filter(retriever__username=name, status=Round.Status.DONE)
        assert row["rounds_labeled"] == labeled.count()
        assert row["rounds_retrieved"] == retrieved.count()
        assert row["label_skips"] == mine.filter(labeler__username=name,
                                                 status=Round.Status.SKIPPED).count()
        assert row["retrieved_found"] == sum(
            RoundPick.objects.filter(round=r, sticker=r.sticker).exists() for r in retrieved)
    assert set(rows) == {("ann", "en"), ("ben", "en"), ("cat", "en"), ("dai", "zh"),
                         ("eve", "zh")}
    assert rows[("ann", "en")]["labeled_found"] == 1 and rows[("ben", "en")]["labeled_found"] == 0
    # most rounds first
    totals = [r["rounds_labeled"] + r["rounds_retrieved"] for r in rows.values()]
    assert totals == sorted(totals, reverse=True)


def test_stickers_without_queries_are_listed_in_import_order(played):
    listed = stickers_without_queries(language="en", limit=100)
    expected = [(s.pk, s.sticker_id) for s in Sticker.objects.order_by("pk")
                if not Query.objects.filter(sticker=s, language="en").exists()]
    assert listed == expected and len(listed) == 9


def test_the_page_is_for_admins_and_linked_from_the_game_pages(client, played):
    game = played["game"]
    client.force_login(get_user_model().objects.get(username="ann"))
    assert client.get(f"/play/{game.name}/stats/").status_code == 302  # to the admin login
    assert b"/stats/" not in client.get(f"/play/{game.name}/").content
    client.force_login(get_user_model().objects.get(username="boss"))
    html = client.get(f"/play/{game.name}/stats/").content.decode()
    table2 = html[html.index('id="stats-table2"'):html.index('id="stats-queries"')]
    assert "<td>Label-role players</td><td>3</td><td>1</td>" in table2
    assert "33 % (1 of 3)" in table2 and "100 % (1 of 1)" in table2
    assert 'id="stats-players"' in html and "<td>eve</td><td>zh</td>" in html
    for page in ("", "leaderboard/", "review/"):
        html = client.get(f"/play/{game.name}/{page}").content.decode()
        assert f"/play/{game.name}/stats/" in html
    assert f"/play/{game.name}/stats/" in client.get("/admin/game/game/").content.decode()
