"""Sticktionary rounds (seed 002, 4.1): a sticker to label, its queries, a round to retrieve,
the ranked picks, skips.

The rules live once, in PostgreSQL functions (``game/sql/``); each service checks the input
(clear ``InputError`` before anything is stored), calls one function in one statement and
turns its status into a result or an error. What the functions guarantee:
- one player's requests run one after the other (an advisory lock per player);
- stickers with the fewest queries in the player's language go first, each to at most
  ``Game.labelers_per_sticker`` labelers, never twice to one player;
- a round goes to one retriever at a time (``FOR UPDATE SKIP LOCKED``), never to its labeler
  nor to anyone who labelled or retrieved the same sticker;
- a resent submission stores nothing more and returns the first answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from annotation.errors import InputError
from annotation.models import Query, Sticker
from annotation.queries_text import queries_split, query_normalize
from game.models import Game, Language, Player, Round, RoundQuery
from game.services.candidates import round_candidates

# A search query, not a caption: a query over this many characters is refused.
QUERY_MAX_CHARS = 100
NORMALIZED_MAX_CHARS = Query._meta.get_field("normalized").max_length
# Queries one labeler may type for one sticker in one round.
MAX_QUERIES_PER_ROUND = 10
# Picks a retriever ranks (seed 002, 4.1: "selecting and ranking up to three").
MAX_PICKS = 3
# Stickers (label) or rows (retrieve) tried per call before answering "none": each try is one
# candidate another player was claiming at the same moment.
MAX_ATTEMPTS = 8
MAX_SUBMISSION_ID = 64

_LABEL_NEXT = "SELECT game_label_next(%s, %s, %s, %s, %s)"
_LABEL_SUBMIT = "SELECT game_label_submit(%s, %s, %s, %s, %s, %s, %s)"
_LABEL_SKIP = "SELECT game_label_skip(%s, %s, %s)"
_RETRIEVE_NEXT = "SELECT game_retrieve_next(%s, %s, %s, %s, %s)"
_RETRIEVE_SUBMIT = "SELECT game_retrieve_submit(%s, %s, %s, %s, %s, %s)"
_RETRIEVE_SKIP = "SELECT game_retrieve_skip(%s, %s, %s)"

NOT_YOURS = "this round is not yours: ask for the next one"


@dataclass(frozen=True)
class Stored:
    """What a submission did: ``created`` False when it repeated an earlier one."""

    round: Round
    created: bool


def _call(sql: str, params: list) -> dict:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        value = cur.fetchone()[0]
    return json.loads(value) if isinstance(value, str) else value


def player_for(*, user: AbstractBaseUser, language: str | None = None) -> Player:
    """The user's player profile; ``language``, when the client sends one, must be theirs (the
    game never mixes languages: seed 002, 4.3)."""
    player = Player.objects.filter(user=user).first()
    if player is None:
        raise InputError("player", "choose the language you play in first "
                                   "(POST /api/game/player/ with {\"language\": \"en\"|\"zh\"})")
    if language is not None and language != player.language:
        raise InputError("language", f"you play in {player.language!r}, not {language!r}; "
                                     "the game never mixes languages")
    return player


def player_set_language(*, user: AbstractBaseUser, language: str) -> Player:
    """Creates or changes the user's player profile."""
    if language not in Language.values:
        raise InputError("language", "choose en or zh")
    player, _ = Player.objects.update_or_create(user=user, defaults={"language": language})
    return player


def _game(name: str) -> Game:
    game = Game.objects.filter(name=name).first()
    if game is None:
        raise Game.DoesNotExist(f"no game named {name!r}")
    return game


def _submission(submission_id: str) -> str:
    if len(submission_id) > MAX_SUBMISSION_ID:
        raise InputError("submission_id", f"at most {MAX_SUBMISSION_ID} characters")
    return submission_id


def queries_checked(raw: list[str]) -> list[tuple[str, str]]:
    """The labeler's queries as (text, normalised), in order, repeats dropped.

    Each entry may hold several queries separated by commas (as StickerQueries stores them);
    stored texts are what ``queries_split`` keeps, so an export and re-import gives them back.
    Refuses an empty entry, an over-long query, or too many.
    """
    if not raw:
        raise InputError("queries", "type at least one query")
    out: dict[str, str] = {}
    for n, entry in enumerate(raw, start=1):
        parts = queries_split(entry) if isinstance(entry, str) else []
        if not parts:
            raise InputError("queries", f"query {n} is empty")
        for text in parts:
            if len(text) > QUERY_MAX_CHARS:
                raise InputError("queries", f"query {n} is longer than {QUERY_MAX_CHARS} "
                                            "characters: a search query, not a description")
            normalized = query_normalize(text)
            if not normalized:
                raise InputError("queries", f"query {n} is empty")
            if len(normalized) > NORMALIZED_MAX_CHARS:  # NFKC expands a few characters 18-fold
                raise InputError("queries", f"query {n} is too long once normalised")
            out.setdefault(normalized, text)
    if len(out) > MAX_QUERIES_PER_ROUND:
        raise InputError("queries", f"at most {MAX_QUERIES_PER_ROUND} queries per sticker")
    return [(text, normalized) for normalized, text in out.items()]


def label_next(*, user: AbstractBaseUser, game_name: str, language: str | None = None
               ) -> Round | None:
    """The round the player is labelling, or a new one on the next sticker (None: nothing
    left for them). Raises ``Game.DoesNotExist`` for an unknown game."""
    player = player_for(user=user, language=language)
    game = _game(game_name)
    found = _call(_LABEL_NEXT, [user.pk, game.name, player.language, timezone.now(),
                                MAX_ATTEMPTS])
    if found["status"] != "leased":
        return None
    return Round.objects.select_related("sticker").get(pk=found["round_id"])


def label_submit(*, user: AbstractBaseUser, round_id: int, queries: list[str],
                 language: str | None = None, submission_id: str = "") -> Stored:
    """Stores the labeler's queries for their round and picks the retriever's grid; the round
    then waits for a retriever. A repeat stores nothing and returns the first submission."""
    player_for(user=user, language=language)
    checked = queries_checked(queries)
    submission = _submission(submission_id)
    round_ = Round.objects.select_related("game").filter(pk=round_id).first()
    if round_ is None:
        raise Round.DoesNotExist(f"no round {round_id}")
    if round_.labeler_id != user.pk:
        raise InputError(f"round {round_id}", NOT_YOURS)
    grid = (round_.candidates or round_candidates(game=round_.game, sticker_pk=round_.sticker_id,
                                                  seed=round_.pk)
            if round_.status == Round.Status.LABELING else [])
    result = _call(_LABEL_SUBMIT, [user.pk, round_id, [t for t, _ in checked],
                                   [n for _, n in checked], grid, submission, timezone.now()])
    status = result["status"]
    if status == "skipped":
        raise InputError(f"round {round_id}", "you skipped this sticker")
    if status not in ("stored", "repeat"):
        raise InputError(f"round {round_id}", NOT_YOURS)
    return Stored(Round.objects.get(pk=round_id), created=status == "stored")


def label_skip(*, user: AbstractBaseUser, round_id: int) -> Round:
    """The labeler passes on this sticker: it frees the slot and never comes back to them."""
    result = _call(_LABEL_SKIP, [user.pk, round_id, timezone.now()])
    if result["status"] == "no_round":
        raise Round.DoesNotExist(f"no round {round_id}")
    if result["status"] == "submitted":
        raise InputError(f"round {round_id}", "your queries are already in")
    if result["status"] != "skipped":
        raise InputError(f"round {round_id}", NOT_YOURS)
    return Round.objects.get(pk=round_id)


def retrieve_next(*, user: AbstractBaseUser, game_name: str, language: str | None = None
                  ) -> Round | None:
    """The round the player is retrieving, or the one waiting longest that they may take
    (None: nothing for them now). Raises ``Game.DoesNotExist`` for an unknown game."""
    player = player_for(user=user, language=language)
    game = _game(game_name)
    found = _call(_RETRIEVE_NEXT, [user.pk, game.name, player.language, timezone.now(),
                                   MAX_ATTEMPTS])
    if found["status"] != "leased":
        return None
    return Round.objects.get(pk=found["round_id"])


def _pick_pks(round_: Round, picks: list[str]) -> list[int]:
    """The picked sticker ids as primary keys, checked: at most three, no repeats, each on the
    round's grid."""
    if not isinstance(picks, list) or not all(isinstance(p, str) for p in picks):
        raise InputError("picks", "a list of sticker ids, best first")
    if len(picks) > MAX_PICKS:
        raise InputError("picks", f"at most {MAX_PICKS} picks, best first")
    if len(set(picks)) != len(picks):
        raise InputError("picks", "each sticker at most once")
    by_id = dict(Sticker.objects.filter(pk__in=round_.candidates, sticker_id__in=picks)
                 .values_list("sticker_id", "pk"))
    outside = [p for p in picks if p not in by_id]
    if outside:
        raise InputError("picks", f"not among this round's candidates: {', '.join(outside[:3])}")
    return [by_id[p] for p in picks]


def retrieve_submit(*, user: AbstractBaseUser, round_id: int, picks: list[str],
                    language: str | None = None, submission_id: str = "") -> Stored:
    """Stores the retriever's ranked picks (sticker ids, best first; empty: "none of them").
    Success adds the labeler's queries to the sticker's Q_i; a failure goes to review. A
    repeat stores nothing and returns the first answer."""
    player_for(user=user, language=language)
    submission = _submission(submission_id)
    round_ = Round.objects.filter(pk=round_id).first()
    if round_ is None:
        raise Round.DoesNotExist(f"no round {round_id}")
    if round_.retriever_id != user.pk:
        raise InputError(f"round {round_id}", NOT_YOURS)
    pks = _pick_pks(round_, picks)
    result = _call(_RETRIEVE_SUBMIT, [user.pk, round_id, pks, MAX_PICKS, submission,
                                      timezone.now()])
    status = result["status"]
    if status == "outside":
        raise InputError("picks", "not among this round's candidates")
    if status == "too_many":
        raise InputError("picks", f"at most {MAX_PICKS} picks, each once")
    if status not in ("stored", "repeat"):
        raise InputError(f"round {round_id}", NOT_YOURS)
    return Stored(Round.objects.get(pk=round_id), created=status == "stored")


def retrieve_skip(*, user: AbstractBaseUser, round_id: int) -> Round:
    """The retriever passes: the round goes back to the others and never to them again."""
    result = _call(_RETRIEVE_SKIP, [user.pk, round_id, timezone.now()])
    if result["status"] == "no_round":
        raise Round.DoesNotExist(f"no round {round_id}")
    if result["status"] == "submitted":
        raise InputError(f"round {round_id}", "your picks are already in")
    if result["status"] != "skipped":
        raise InputError(f"round {round_id}", NOT_YOURS)
    return Round.objects.get(pk=round_id)


def retrieve_suggest(*, user: AbstractBaseUser, round_id: int, queries: list[str],
                     language: str | None = None) -> list[RoundQuery]:
    """The retriever's own queries for the target, after the reveal (seed 002, 4.1: "retrievers
    may optionally contribute new query suggestions"). They join the sticker's Q_i at once
    (source ``game``, the retriever as author): the retriever has seen what the sticker is.
    Sending the same suggestion again stores nothing more."""
    player_for(user=user, language=language)
    checked = queries_checked(queries)
    round_ = Round.objects.filter(pk=round_id).first()
    if round_ is None:
        raise Round.DoesNotExist(f"no round {round_id}")
    if round_.retriever_id != user.pk or round_.status != Round.Status.DONE:
        raise InputError(f"round {round_id}", "suggestions come after your picks, "
                                              "for the rounds you retrieved")
    now = timezone.now()
    with transaction.atomic():
        start = (RoundQuery.objects.filter(round=round_, role=RoundQuery.Role.SUGGESTION)
                 .count()) + 1
        RoundQuery.objects.bulk_create(
            [RoundQuery(round=round_, author=user, role=RoundQuery.Role.SUGGESTION,
                        position=start + i, text=text, normalized=normalized, created_at=now)
             for i, (text, normalized) in enumerate(checked)], ignore_conflicts=True)
        Query.objects.bulk_create(
            [Query(sticker_id=round_.sticker_id, text=text, normalized=normalized,
                   language=round_.language, source=Query.Source.GAME)
             for text, normalized in sorted(checked, key=lambda tn: tn[1])],
            ignore_conflicts=True)  # key order, as game_round_accept_queries: no deadlock
        stored = list(RoundQuery.objects.filter(
            round=round_, role=RoundQuery.Role.SUGGESTION, author=user,
            normalized__in=[n for _, n in checked]))
        by_normalized = dict(Query.objects.filter(
            sticker_id=round_.sticker_id, language=round_.language,
            normalized__in=[n for _, n in checked]).values_list("normalized", "pk"))
        for suggestion in stored:
            suggestion.query_id = by_normalized.get(suggestion.normalized)
        RoundQuery.objects.bulk_update(stored, ["query"])
    return stored
