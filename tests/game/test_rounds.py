"""Sticktionary rounds through the services (the rules in ``game/sql/``): which sticker next,
who retrieves what, outcomes, queries joining Q_i, the review of failed rounds, points."""

from __future__ import annotations

import numpy as np
import pytest

from annotation.errors import InputError
from annotation.models import Query
from game.models import Round, RoundQuery
from game.selectors import label_view, leaderboard, retrieve_view, review_queue, round_outcome
from game.services.candidates import round_candidates
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
from tests.game.factories import (
    embeddings_add,
    game_create,
    player_create,
    queries_add,
    stickers_create,
)

pytestmark = pytest.mark.django_db


def _labelled(user, game, *queries: str) -> Round:
    round_ = label_next(user=user, game_name=game.name)
    return label_submit(user=user, round_id=round_.pk, queries=list(queries)).round


def _grid_ids(round_: Round) -> list[str]:
    return [c["sticker_id"] for c in retrieve_view(round_=round_)["candidates"]]


def test_stickers_with_the_fewest_queries_go_first():
    # given: three stickers, the first two already have English queries
    s = stickers_create(3)
    queries_add(s[0], "hello", "hi")
    queries_add(s[1], "bye")
    queries_add(s[2], "你好", language="zh")  # another language does not count
    game = game_create()
    a, b, c = (player_create(n) for n in "abc")
    # when three players ask for a sticker to label
    got = [label_next(user=u, game_name=game.name).sticker_id for u in (a, b, c)]
    # then all take the sticker with no English query (three labelers per sticker)
    assert got == [s[2].pk] * 3


def test_a_sticker_goes_to_labelers_per_sticker_players_then_the_next():
    s = stickers_create(2)
    queries_add(s[1], "already")
    game = game_create(labelers_per_sticker=2)
    users = [player_create(n) for n in "abc"]
    got = [label_next(user=u, game_name=game.name).sticker_id for u in users]
    assert got == [s[0].pk, s[0].pk, s[1].pk]


def test_refresh_returns_the_round_in_progress():
    stickers_create(3)
    game = game_create()
    a = player_create("a")
    first = label_next(user=a, game_name=game.name)
    assert label_next(user=a, game_name=game.name).pk == first.pk
    assert Round.objects.count() == 1


def test_a_player_never_labels_one_sticker_twice():
    # given: one sticker; a labels it, b skips it
    s = stickers_create(1)
    game = game_create()
    a, b = player_create("a"), player_create("b")
    _labelled(a, game, "thumbs up")
    skipped = label_next(user=b, game_name=game.name)
    label_skip(user=b, round_id=skipped.pk)
    # when they ask again
    # then neither gets that sticker again
    assert label_next(user=a, game_name=game.name) is None
    assert label_next(user=b, game_name=game.name) is None
    assert Round.objects.filter(sticker=s[0]).count() == 2


def test_labeler_queries_are_normalised_deduplicated_and_the_grid_holds_the_target():
    s = stickers_create(12)
    game = game_create(candidate_count=9)
    a = player_create("a")
    round_ = label_next(user=a, game_name=game.name)
    stored = label_submit(user=a, round_id=round_.pk,
                          queries=["  Thumbs   up ", "thumbs UP", "good job, nice"])
    assert stored.created and stored.round.status == Round.Status.WAITING
    assert list(RoundQuery.objects.filter(round=round_).values_list("text", "normalized")) == [
        ("Thumbs up", "thumbs up"), ("good job", "good job"), ("nice", "nice")]
    grid = stored.round.candidates
    assert len(grid) == 9 and len(set(grid)) == 9 and round_.sticker_id in grid
    assert set(grid) <= {x.pk for x in s}


def test_a_repeated_label_submission_is_stored_once():
    stickers_create(3)
    game = game_create()
    a = player_create("a")
    round_ = label_next(user=a, game_name=game.name)
    first = label_submit(user=a, round_id=round_.pk, queries=["wave"], submission_id="x1")
    again = label_submit(user=a, round_id=round_.pk, queries=["wave"], submission_id="x1")
    assert (first.created, again.created) == (True, False)
    assert RoundQuery.objects.filter(round=round_).count() == 1


def test_a_labeler_never_retrieves_their_own_round():
    # given: a's round waits for a retriever
    stickers_create(5)
    game = game_create()
    a, b = player_create("a"), player_create("b")
    round_ = _labelled(a, game, "facepalm")
    # then a is offered nothing, b gets it
    assert retrieve_next(user=a, game_name=game.name) is None
    assert retrieve_next(user=b, game_name=game.name).pk == round_.pk


def test_rounds_stay_in_their_language():
    stickers_create(5)
    game = game_create()
    en, zh = player_create("en1"), player_create("zh1", "zh")
    _labelled(en, game, "hello")
    assert retrieve_next(user=zh, game_name=game.name) is None


def test_success_adds_the_queries_to_the_sticker_with_source_game_author_and_round():
    # given: a labelled round, a retriever holding it; the sticker already has "wave"
    s = stickers_create(10)
    game = game_create()
    a, b = player_create("a"), player_create("b")
    round_ = label_next(user=a, game_name=game.name)
    queries_add(round_.sticker, "Wave")
    label_submit(user=a, round_id=round_.pk, queries=["wave", "hello there"])
    held = retrieve_next(user=b, game_name=game.name)
    target = round_.sticker.sticker_id
    others = [x for x in _grid_ids(held) if x != target]
    # when b ranks the target second
    stored = retrieve_submit(user=b, round_id=held.pk, picks=[others[0], target])
    # then the round succeeded at rank 2, both score 2
    outcome = round_outcome(round_=stored.round)
    assert (outcome["success"], outcome["rank"], outcome["points"]) == (
        True, 2, {"labeler": 2, "retriever": 2})
    # and the new query joined Q_i with source game; the known one was not added twice
    q = Query.objects.get(sticker=round_.sticker, normalized="hello there")
    assert (q.source, q.language) == ("game", "en")
    assert Query.objects.filter(sticker=round_.sticker).count() == 2
    origins = RoundQuery.objects.filter(round=round_).order_by("position")
    assert [(o.query.normalized, o.author_id, o.round_id) for o in origins] == [
        ("wave", a.pk, round_.pk), ("hello there", a.pk, round_.pk)]
    assert stored.round.review == Round.Review.NONE
    assert len(s) == 10


def test_a_failed_round_waits_for_review_and_accepting_it_adds_its_fixed_queries():
    stickers_create(10)
    game = game_create()
    a, b, admin = player_create("a"), player_create("b"), player_create("boss", staff=True)
    round_ = _labelled(a, game, "facepalm", "helo")
    held = retrieve_next(user=b, game_name=game.name)
    miss = [x for x in _grid_ids(held) if x != round_.sticker.sticker_id][:3]
    stored = retrieve_submit(user=b, round_id=held.pk, picks=miss)
    # then: a miss, nothing in Q_i, the round in the review queue
    assert round_outcome(round_=stored.round)["success"] is False
    assert not Query.objects.exists()
    queue = review_queue(game=game)
    assert [r["round_id"] for r in queue] == [round_.pk]
    # when the admin fixes the typo and accepts
    typo = next(q["id"] for q in queue[0]["queries"] if q["text"] == "helo")
    round_review(reviewer=admin, round_id=round_.pk, decision="accept", fixes={typo: "hello"})
    # then both queries join Q_i and the queue is empty
    assert sorted(Query.objects.filter(sticker=round_.sticker)
                  .values_list("normalized", flat=True)) == ["facepalm", "hello"]
    assert review_queue(game=game) == []
    with pytest.raises(InputError, match="not waiting for review"):
        round_review(reviewer=admin, round_id=round_.pk, decision="discard")


def test_a_discarded_round_adds_nothing():
    stickers_create(10)
    game = game_create()
    a, b, admin = player_create("a"), player_create("b"), player_create("boss", staff=True)
    round_ = _labelled(a, game, "yellow cat")
    held = retrieve_next(user=b, game_name=game.name)
    retrieve_submit(user=b, round_id=held.pk, picks=[])
    round_review(reviewer=admin, round_id=round_.pk, decision="discard")
    assert not Query.objects.exists()
    assert Round.objects.get(pk=round_.pk).review == Round.Review.DISCARDED


def test_a_skipped_round_goes_to_another_retriever_never_back():
    stickers_create(5)
    game = game_create()
    a, b, c = (player_create(n) for n in "abc")
    round_ = _labelled(a, game, "cheers")
    held = retrieve_next(user=b, game_name=game.name)
    retrieve_skip(user=b, round_id=held.pk)
    assert retrieve_next(user=b, game_name=game.name) is None
    assert retrieve_next(user=c, game_name=game.name).pk == round_.pk


def test_a_retriever_never_gets_a_sticker_they_saw_the_answer_to():
    # given: two labelers on one sticker; b retrieves a's round
    stickers_create(1 + 9)
    game = game_create()
    a, c, b = player_create("a"), player_create("c"), player_create("b")
    r1 = _labelled(a, game, "one")
    r2 = _labelled(c, game, "two")
    assert r1.sticker_id == r2.sticker_id
    held = retrieve_next(user=b, game_name=game.name)
    retrieve_submit(user=b, round_id=held.pk, picks=[r1.sticker.sticker_id])
    # then the other round on the same sticker is not for b
    assert retrieve_next(user=b, game_name=game.name) is None


def test_points_and_leaderboard_come_from_the_stored_rounds():
    stickers_create(10)
    game = game_create(labelers_per_sticker=1)
    a, b, c = (player_create(n) for n in "abc")
    r1 = _labelled(a, game, "hug")
    held = retrieve_next(user=b, game_name=game.name)
    retrieve_submit(user=b, round_id=held.pk, picks=[r1.sticker.sticker_id])  # rank 1: 3 each
    r2 = _labelled(b, game, "sleepy")
    held = retrieve_next(user=c, game_name=game.name)
    others = [x for x in _grid_ids(held) if x != r2.sticker.sticker_id]
    retrieve_submit(user=c, round_id=held.pk, picks=[*others[:2], r2.sticker.sticker_id])
    board = leaderboard(game=game, language="en")
    assert [(r["username"], r["points"]) for r in board] == [("b", 4), ("a", 3), ("c", 1)]
    assert leaderboard(game=game, language="zh") == []
    # and the labeler sees how their round went on their next screen
    nxt = label_next(user=a, game_name=game.name)
    assert label_view(round_=nxt)["feedback"][0]["message"] == "your 'hug' was found at rank 1"


def test_distractors_are_mostly_the_targets_nearest_neighbours():
    # given: 30 stickers on a line in embedding space; the grid of sticker 10
    s = stickers_create(30)
    angles = np.linspace(0, 1.5, 30)
    embeddings_add(s, np.stack([np.cos(angles), np.sin(angles)], axis=1))
    game = game_create(candidate_count=9)
    # when
    grid = round_candidates(game=game, sticker_pk=s[10].pk, seed=1)
    # then: 8 distractors, 6 of them the nearest (9, 11, 8, 12, 7, 13), 2 random
    assert len(grid) == 9 and s[10].pk in grid
    nearest = {s[i].pk for i in (7, 8, 9, 11, 12, 13)}
    assert nearest <= set(grid)


def test_random_distractors_without_embeddings():
    s = stickers_create(20)
    game = game_create(candidate_count=9)
    grid = round_candidates(game=game, sticker_pk=s[0].pk, seed=3)
    assert len(set(grid)) == 9 and s[0].pk in grid


def test_the_retriever_may_suggest_queries_after_the_reveal():
    # given: b retrieved a's round (a miss)
    stickers_create(10)
    game = game_create()
    a, b, c = (player_create(n) for n in "abc")
    round_ = _labelled(a, game, "party")
    with pytest.raises(InputError, match="suggestions come after your picks"):
        retrieve_suggest(user=b, round_id=round_.pk, queries=["too early"])
    held = retrieve_next(user=b, game_name=game.name)
    retrieve_submit(user=b, round_id=held.pk, picks=[])
    # when b suggests twice, and c (not the retriever) tries
    retrieve_suggest(user=b, round_id=round_.pk, queries=["let's celebrate"])
    retrieve_suggest(user=b, round_id=round_.pk, queries=["Let's celebrate"])
    with pytest.raises(InputError):
        retrieve_suggest(user=c, round_id=round_.pk, queries=["mine"])
    # then b's suggestion is on the sticker once, with b as its author
    q = Query.objects.get(sticker=round_.sticker)
    assert (q.normalized, q.source) == ("let's celebrate", "game")
    assert q.game_origins.get().author == b


def test_random_stickers_are_distinct_existing_and_never_the_excluded():
    import random

    from game.services.candidates import random_stickers

    s = stickers_create(12)
    s[3].delete()  # a hole in the ids
    pks = {x.pk for x in s} - {s[3].pk}
    got = random_stickers(k=8, exclude={s[0].pk, s[1].pk}, rng=random.Random(5))
    assert len(got) == len(set(got)) == 8
    assert set(got) <= pks - {s[0].pk, s[1].pk}
    # and asking for more than the library holds returns what there is
    assert len(random_stickers(k=50, exclude=set(), rng=random.Random(1))) == 11
