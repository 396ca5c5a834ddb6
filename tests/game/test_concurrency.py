"""The round rules under real concurrency on PostgreSQL: threads with one database connection
each, started together at a barrier (as tests/annotation/test_assignment.py does for the
annotation tasks)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connections

from game.models import Round, RoundPick, RoundQuery
from game.services.rounds import label_next, label_submit, retrieve_next, retrieve_submit
from tests.game.factories import game_create, player_create, stickers_create

pytestmark = pytest.mark.django_db(transaction=True)
STICKERS = 12  # stickers accepted twice at once in the deadlock test


def _together(n: int, work: Callable[[int], object]) -> tuple[list, list[Exception]]:
    """Runs ``work(i)`` for i in range(n) in n threads released at once; results and errors."""
    barrier = threading.Barrier(n)
    results: list = []
    errors: list[Exception] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results.append(work(i))
        except Exception as exc:  # surfaced in the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, errors


def _waiting_rounds(game, labelers: list, sticker_count: int) -> list[Round]:
    rounds = []
    for user in labelers:
        r = label_next(user=user, game_name=game.name)
        rounds.append(label_submit(user=user, round_id=r.pk, queries=[f"q {user}"]).round)
    return rounds


def test_two_retrievers_never_get_the_same_round():
    # given: 3 waiting rounds on 3 stickers, 8 retrievers asking at once
    stickers_create(12)
    game = game_create(labelers_per_sticker=1)
    labelers = [player_create(f"l{i}") for i in range(3)]
    rounds = _waiting_rounds(game, labelers, 3)
    retrievers = [player_create(f"r{i}") for i in range(8)]
    # when
    got, errors = _together(8, lambda i: retrieve_next(user=retrievers[i], game_name=game.name))
    # then: each round went to exactly one retriever, the rest got nothing
    assert not errors, errors
    taken = [r.pk for r in got if r is not None]
    assert sorted(taken) == sorted(r.pk for r in rounds)
    assert Round.objects.filter(status=Round.Status.RETRIEVING).count() == 3
    holders = Counter(Round.objects.values_list("retriever_id", flat=True))
    assert max(holders.values()) == 1


def test_a_labeler_racing_for_rounds_never_gets_their_own():
    # given: 4 labelers each with a waiting round (4 stickers), all asking to retrieve at once
    stickers_create(12)
    game = game_create(labelers_per_sticker=1)
    players = [player_create(f"p{i}") for i in range(4)]
    _waiting_rounds(game, players, 4)
    # when
    got, errors = _together(4, lambda i: (players[i].pk, retrieve_next(user=players[i],
                                                                          game_name=game.name)))
    # then: nobody holds their own round, and nobody holds two
    assert not errors, errors
    held = [(uid, r) for uid, r in got if r is not None]
    assert held and all(r.labeler_id != uid for uid, r in held)
    assert len({r.pk for _, r in held}) == len(held)


def test_concurrent_labelers_fill_each_sticker_to_its_limit_never_twice_per_player():
    # given: 3 stickers, 2 labelers each; 8 players, each asking for stickers until none left
    stickers_create(3)
    game = game_create(labelers_per_sticker=2)
    players = [player_create(f"p{i}") for i in range(8)]

    def play(i: int) -> int:
        user, n = players[i], 0
        while (r := label_next(user=user, game_name=game.name)) is not None:
            label_submit(user=user, round_id=r.pk, queries=["x"])
            n += 1
        return n

    # when
    _, errors = _together(8, play)
    # then: 6 rounds, 2 per sticker, never the same player twice on a sticker
    assert not errors, errors
    per_sticker = Counter(Round.objects.values_list("sticker_id", flat=True))
    assert sorted(per_sticker.values()) == [2, 2, 2]
    pairs = Counter(Round.objects.values_list("sticker_id", "labeler_id"))
    assert max(pairs.values()) == 1


def test_parallel_resubmissions_are_stored_once():
    # given: one round labelled and held by a retriever
    stickers_create(10)
    game = game_create()
    a, b = player_create("a"), player_create("b")
    round_ = label_next(user=a, game_name=game.name)
    # when the labeler's page resends its submission five times at once
    labels, errors = _together(5, lambda i: label_submit(
        user=a, round_id=round_.pk, queries=["wave", "hello"], submission_id="s1").created)
    assert not errors, errors
    held = retrieve_next(user=b, game_name=game.name)
    target = round_.sticker.sticker_id
    picks, errors = _together(5, lambda i: retrieve_submit(
        user=b, round_id=held.pk, picks=[target], submission_id="p1").created)
    # then: each stored once, the rest answered as repeats
    assert not errors, errors
    assert sorted(labels) == [False] * 4 + [True]
    assert sorted(picks) == [False] * 4 + [True]
    assert RoundQuery.objects.filter(round=round_).count() == 2
    assert RoundPick.objects.filter(round=round_).count() == 1


def test_accepting_two_rounds_of_one_sticker_at_once_never_deadlocks():
    # given: STICKERS stickers, each labelled by two players with the same 10 queries in opposite
    # orders, both rounds missed and waiting for review
    from annotation.models import Query
    from game.services.review import round_review

    stickers_create(STICKERS + 9)
    game = game_create(labelers_per_sticker=2)
    la, lb, ra, rb = (player_create(n) for n in ("la", "lb", "ra", "rb"))
    words = [f"word {i:02d}" for i in range(10)]
    by_labeler: dict[int, list[int]] = {la.pk: [], lb.pk: []}
    for _ in range(STICKERS):
        for user, queries in ((la, words), (lb, words[::-1])):
            r = label_next(user=user, game_name=game.name)
            label_submit(user=user, round_id=r.pk, queries=queries)
            by_labeler[user.pk].append(r.pk)
    for retriever in (ra, rb):
        while (held := retrieve_next(user=retriever, game_name=game.name)) is not None:
            retrieve_submit(user=retriever, round_id=held.pk, picks=[])
    admins = [player_create("boss1", staff=True), player_create("boss2", staff=True)]
    # when two admins accept the two rounds of each sticker at the same moment (a barrier per
    # sticker: a race test makes the overlap likely, it cannot force it)
    queues = [by_labeler[la.pk], by_labeler[lb.pk]]
    step = threading.Barrier(2)

    def accept_all(i: int) -> None:
        try:
            for r in queues[i]:
                step.wait(timeout=30)
                round_review(reviewer=admins[i], round_id=r, decision="accept")
        except Exception:
            step.abort()  # the other thread must not wait for this one forever
            raise

    _, errors = _together(2, accept_all)
    # then no deadlock, and each sticker has the 10 queries once
    assert not errors, errors
    assert Query.objects.count() == STICKERS * 10
