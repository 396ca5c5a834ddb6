"""Reads of the game statistics page for admins (seed 002, Table 2): players per role and
language, rounds per player, success rate, queries accepted per sticker, and the stickers that
still have no queries. Each figure is one aggregate query over the stored rounds (no counters),
so the page costs the same few queries whatever the game's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

from game.models import Game, Language

PLAYERS_SHOWN = 200  # rows of the per-player table (most rounds first)
EMPTY_STICKERS_SHOWN = 48  # stickers without queries listed per language (the count is exact)
# Accepted queries per sticker shown as a histogram 1, 2, ..., HISTOGRAM_TOP or more.
HISTOGRAM_TOP = 5


@dataclass
class LanguageStats:
    """Table 2's column for one language, and the rest of the page's figures for it."""

    language: str
    label_players: int = 0  # players who submitted queries in at least one round
    retrieve_players: int = 0  # players who submitted picks in at least one round
    rounds_labeled: int = 0  # rounds whose queries were submitted
    rounds_retrieved: int = 0  # rounds whose picks were submitted (the outcome is known)
    label_skips: int = 0  # stickers a labeler passed on
    retrieve_skips: int = 0  # rounds a retriever passed on
    successes: int = 0  # retrieved rounds whose target was among the picks
    review_pending: int = 0
    review_accepted: int = 0
    review_discarded: int = 0
    queries_accepted: int = 0  # distinct Q_i rows that came from this game's rounds
    stickers_with_accepted: int = 0  # stickers that got at least one of them
    stickers_played: int = 0  # stickers with at least one submitted round
    accepted_histogram: dict[str, int] = field(default_factory=dict)  # "1".."5+" -> stickers
    stickers_without_queries: int = 0  # in the whole library, any source

    @property
    def tasks_per_label_player(self) -> float | None:
        return self.rounds_labeled / self.label_players if self.label_players else None

    @property
    def tasks_per_retrieve_player(self) -> float | None:
        return self.rounds_retrieved / self.retrieve_players if self.retrieve_players else None

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.rounds_retrieved if self.rounds_retrieved else None

    @property
    def accepted_per_sticker(self) -> float | None:
        """Accepted queries per sticker that got any."""
        return (self.queries_accepted / self.stickers_with_accepted
                if self.stickers_with_accepted else None)


_ROUNDS_SQL = """
SELECT r.language,
       count(DISTINCT r.labeler_id) FILTER (WHERE r.labeled_at IS NOT NULL),
       count(DISTINCT r.retriever_id) FILTER (WHERE r.status = 'done'),
       count(*) FILTER (WHERE r.labeled_at IS NOT NULL),
       count(*) FILTER (WHERE r.status = 'done'),
       count(*) FILTER (WHERE r.status = 'skipped'),
       count(p.id) FILTER (WHERE r.status = 'done'),
       count(*) FILTER (WHERE r.review = 'pending'),
       count(*) FILTER (WHERE r.review = 'accepted'),
       count(*) FILTER (WHERE r.review = 'discarded'),
       count(DISTINCT r.sticker_id) FILTER (WHERE r.labeled_at IS NOT NULL),
       (SELECT count(*) FROM game_roundskip k JOIN game_round o ON o.id = k.round_id
        WHERE o.game_id = %(game)s AND o.language = r.language)
FROM game_round r
LEFT JOIN game_roundpick p ON p.round_id = r.id AND p.sticker_id = r.sticker_id
WHERE r.game_id = %(game)s
GROUP BY r.language
"""

# Accepted queries per sticker: the Q_i rows the game's round queries became (a query two
# rounds both gave is one row, counted once).
_ACCEPTED_SQL = """
SELECT language, least(n, %(top)s) AS bucket, count(*) AS stickers, sum(n) AS queries
FROM (SELECT r.language, r.sticker_id, count(DISTINCT q.query_id) AS n
      FROM game_roundquery q JOIN game_round r ON r.id = q.round_id
      WHERE r.game_id = %(game)s AND q.query_id IS NOT NULL
      GROUP BY r.language, r.sticker_id) per_sticker
GROUP BY language, bucket
"""

_WITHOUT_QUERIES = """
FROM annotation_sticker s
WHERE NOT EXISTS (SELECT 1 FROM annotation_query q
                  WHERE q.sticker_id = s.id AND q.language = %s)
"""

_PLAYERS_SQL = """
WITH outcome AS (
  SELECT r.language, r.labeler_id, r.retriever_id, r.status, r.labeled_at,
         (p.id IS NOT NULL) AS success
  FROM game_round r
  LEFT JOIN game_roundpick p ON p.round_id = r.id AND p.sticker_id = r.sticker_id
  WHERE r.game_id = %(game)s
), played AS (
  SELECT labeler_id AS user_id, language, 1 AS labeled, 0 AS retrieved,
         (status = 'done' AND success)::int AS found_labeled, 0 AS found_retrieved,
         0 AS skipped
  FROM outcome WHERE labeled_at IS NOT NULL
  UNION ALL
  SELECT labeler_id, language, 0, 0, 0, 0, 1 FROM outcome WHERE status = 'skipped'
  UNION ALL
  SELECT retriever_id, language, 0, 1, 0, success::int, 0 FROM outcome WHERE status = 'done'
)
SELECT u.username, p.language, sum(p.labeled)::int, sum(p.retrieved)::int,
       sum(p.found_labeled)::int, sum(p.found_retrieved)::int, sum(p.skipped)::int
FROM played p JOIN auth_user u ON u.id = p.user_id
GROUP BY u.username, p.language
ORDER BY sum(p.labeled) + sum(p.retrieved) DESC, u.username, p.language
LIMIT %(limit)s
"""


def game_statistics(*, game: Game) -> list[LanguageStats]:
    """Table 2 and the page's other figures, one ``LanguageStats`` per language."""
    stats = {code: LanguageStats(language=code) for code in Language.values}
    with connection.cursor() as cur:
        cur.execute(_ROUNDS_SQL, {"game": game.pk})
        for language, *row in cur.fetchall():
            s = stats.setdefault(language, LanguageStats(language=language))
            (s.label_players, s.retrieve_players, s.rounds_labeled, s.rounds_retrieved,
             s.label_skips, s.successes, s.review_pending, s.review_accepted,
             s.review_discarded, s.stickers_played, s.retrieve_skips) = row
        cur.execute(_ACCEPTED_SQL, {"game": game.pk, "top": HISTOGRAM_TOP})
        for language, bucket, stickers, queries in cur.fetchall():
            s = stats.setdefault(language, LanguageStats(language=language))
            label = f"{bucket}+" if bucket == HISTOGRAM_TOP else str(bucket)
            s.accepted_histogram[label] = stickers
            s.stickers_with_accepted += stickers
            s.queries_accepted += int(queries)
        for s in stats.values():
            cur.execute("SELECT count(*)" + _WITHOUT_QUERIES, [s.language])
            s.stickers_without_queries = cur.fetchone()[0]
    for s in stats.values():
        s.accepted_histogram = {label: s.accepted_histogram.get(label, 0) for label in
                                [*map(str, range(1, HISTOGRAM_TOP)), f"{HISTOGRAM_TOP}+"]}
    return list(stats.values())


def player_statistics(*, game: Game, limit: int = PLAYERS_SHOWN) -> list[dict]:
    """Rounds per player and language: labelled, retrieved, found (their queries found / they
    found the target), skipped; most rounds first."""
    with connection.cursor() as cur:
        cur.execute(_PLAYERS_SQL, {"game": game.pk, "limit": limit})
        rows = cur.fetchall()
    return [{"username": name, "language": language, "rounds_labeled": labeled,
             "rounds_retrieved": retrieved, "labeled_found": found_l,
             "retrieved_found": found_r, "label_skips": skipped}
            for name, language, labeled, retrieved, found_l, found_r, skipped in rows]


def stickers_without_queries(*, language: str, limit: int = EMPTY_STICKERS_SHOWN
                             ) -> list[tuple[int, str]]:
    """The first stickers (by import order) with no query in ``language``, as (primary key,
    sticker id): what the game offers first."""
    with connection.cursor() as cur:
        cur.execute("SELECT s.id, s.sticker_id" + _WITHOUT_QUERIES + "ORDER BY s.id LIMIT %s",
                    [language, limit])
        return [(pk, sticker_id) for pk, sticker_id in cur.fetchall()]
