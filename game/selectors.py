"""Reads of the game: what a labeler and a retriever see, outcomes, points, the leaderboard,
the review queue. Outcome and points come from the stored picks every time (no counters that
can drift: SPEC.md, Label Studio #7902).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection

from annotation.models import Query, Sticker
from annotation.selectors import sticker_file_url
from game.models import Game, Round, RoundPick, RoundQuery

# Points by the target's rank among the picks (rank 1 scores more than rank 3); a miss scores
# nothing. Labeler and retriever score the same: both made the round work.
POINTS_BY_RANK = {1: 3, 2: 2, 3: 1}
FEEDBACK_ROUNDS = 5  # earlier outcomes shown on the labeler's screen
LEADERBOARD_SIZE = 20


def sticker_card(sticker: Sticker) -> dict[str, Any]:
    """A sticker as the pages draw it (animated formats shown as they are)."""
    return {"sticker_id": sticker.sticker_id, "url": sticker_file_url(sticker.file.name),
            "media_type": sticker.media_type, "is_animated": sticker.is_animated,
            "width": sticker.width, "height": sticker.height}


def round_queries(round_: Round, role: str = RoundQuery.Role.LABEL) -> list[str]:
    return list(round_.queries.filter(role=role).order_by("position")
                .values_list("text", flat=True))


def label_view(*, round_: Round) -> dict[str, Any]:
    """The labeler's screen: the sticker, the queries it already has in this language (not to
    repeat them), and the outcomes of the labeler's earlier rounds."""
    known = (Query.objects.filter(sticker_id=round_.sticker_id, language=round_.language)
             .order_by("id").values_list("text", flat=True)[:50])
    return {"round_id": round_.pk, "role": "label", "language": round_.language,
            "sticker": sticker_card(round_.sticker), "known_queries": list(known),
            "feedback": labeler_feedback(user_id=round_.labeler_id, game_id=round_.game_id)}


def retrieve_view(*, round_: Round) -> dict[str, Any]:
    """The retriever's screen: the labeler's queries and the grid, the target not marked."""
    stickers = Sticker.objects.in_bulk(round_.candidates)
    return {"round_id": round_.pk, "role": "retrieve", "language": round_.language,
            "queries": round_queries(round_),
            "candidates": [sticker_card(stickers[pk]) for pk in round_.candidates
                           if pk in stickers]}


def target_rank(round_: Round) -> int | None:
    """The target's rank among the retriever's picks; None: missed (or not retrieved yet)."""
    return (RoundPick.objects.filter(round=round_, sticker_id=round_.sticker_id)
            .values_list("rank", flat=True).first())


def round_outcome(*, round_: Round) -> dict[str, Any]:
    """A finished round as both players see it after the reveal."""
    rank = target_rank(round_)
    picks = list(RoundPick.objects.filter(round=round_).select_related("sticker")
                 .order_by("rank"))
    points = POINTS_BY_RANK.get(rank, 0) if rank else 0
    return {"round_id": round_.pk, "status": round_.status,
            "success": rank is not None, "rank": rank,
            "points": {"labeler": points, "retriever": points},
            "target": sticker_card(round_.sticker), "queries": round_queries(round_),
            "picks": [p.sticker.sticker_id for p in picks]}


def labeler_feedback(*, user_id: int, game_id: int) -> list[dict[str, Any]]:
    """The labeler's latest finished rounds: "your 'facepalm' was found at rank 1"."""
    rounds = (Round.objects.filter(game_id=game_id, labeler_id=user_id,
                                   status=Round.Status.DONE)
              .select_related("sticker").order_by("-retrieved_at", "-id")[:FEEDBACK_ROUNDS])
    out = []
    for r in rounds:
        rank = target_rank(r)
        queries = round_queries(r)
        said = ", ".join(f"'{q}'" for q in queries[:3])
        message = (f"your {said} was found at rank {rank}" if rank
                   else f"your {said} was not found")
        out.append({"round_id": r.pk, "sticker": sticker_card(r.sticker), "queries": queries,
                    "rank": rank, "points": POINTS_BY_RANK.get(rank, 0) if rank else 0,
                    "message": message})
    return out


_POINTS_SQL = """
WITH outcome AS (
  SELECT r.labeler_id, r.retriever_id,
         coalesce((%s::integer[])[p.rank], 0) AS points
  FROM game_round r
  LEFT JOIN game_roundpick p ON p.round_id = r.id AND p.sticker_id = r.sticker_id
  WHERE r.game_id = %s AND r.language = %s AND r.status = 'done'
), played AS (
  SELECT labeler_id AS user_id, points, 1 AS labeled, 0 AS retrieved FROM outcome
  UNION ALL
  SELECT retriever_id, points, 0, 1 FROM outcome
)
SELECT u.id, u.username, sum(p.points)::integer, sum(p.labeled)::integer,
       sum(p.retrieved)::integer
FROM played p JOIN auth_user u ON u.id = p.user_id
GROUP BY u.id, u.username
ORDER BY 3 DESC, u.username
"""


def _points_rows(game: Game, language: str) -> list[dict[str, Any]]:
    by_rank = [POINTS_BY_RANK.get(r, 0) for r in range(1, max(POINTS_BY_RANK) + 1)]
    with connection.cursor() as cur:
        cur.execute(_POINTS_SQL, [by_rank, game.pk, language])
        rows = cur.fetchall()
    return [{"user_id": uid, "username": name, "points": points, "rounds_labeled": labeled,
             "rounds_retrieved": retrieved}
            for uid, name, points, labeled, retrieved in rows]


def leaderboard(*, game: Game, language: str, size: int = LEADERBOARD_SIZE
                ) -> list[dict[str, Any]]:
    """Players of one language by points, from the stored rounds."""
    rows = _points_rows(game, language)[:size]
    return [{"rank": i, **{k: v for k, v in row.items() if k != "user_id"}}
            for i, row in enumerate(rows, start=1)]


def player_points(*, game: Game, user: AbstractBaseUser, language: str) -> int:
    """The player's points in the game, from the stored rounds."""
    return next((row["points"] for row in _points_rows(game, language)
                 if row["user_id"] == user.pk), 0)


def review_queue(*, game: Game | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Failed rounds waiting for an admin, oldest first, with what was typed and picked."""
    rounds = Round.objects.filter(review=Round.Review.PENDING).select_related(
        "sticker", "labeler", "retriever").order_by("retrieved_at", "id")
    if game is not None:
        rounds = rounds.filter(game=game)
    out = []
    for r in rounds[:limit]:
        picks = [p.sticker for p in RoundPick.objects.filter(round=r)
                 .select_related("sticker").order_by("rank")]
        out.append({
            "round_id": r.pk, "language": r.language, "sticker": sticker_card(r.sticker),
            "labeler": r.labeler.username, "retriever": r.retriever.username,
            "queries": [{"id": q.pk, "text": q.text}
                        for q in r.queries.filter(role=RoundQuery.Role.LABEL)
                        .order_by("position")],
            "picks": [sticker_card(s) for s in picks],
        })
    return out


def review_pending_count() -> int:
    return Round.objects.filter(review=Round.Review.PENDING).count()
