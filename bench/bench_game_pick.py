"""Sticktionary's "next sticker to label" on a big library: the pick that counted every
sticker's queries (migration 0004's rules) beside the index walk (the current rules), in the
same run, on the same rows.

    .venv/bin/python bench/bench_game_pick.py                 # 50,000 stickers
    .venv/bin/python bench/bench_game_pick.py --no-fill --picks 400
    DATABASE_URL=postgres://... .venv/bin/python bench/bench_game_pick.py   # any server

1. Creates (drops first) the database ``<DATABASE_URL's name>_pick`` (the embedded server's
   ``stickersim_pick`` when DATABASE_URL is unset), migrates it and fills, in SQL: ``--stickers``
   stickers with 0-10 English queries each (sticker i has i mod 11: a library half collected),
   a game with 3 labelers per sticker, and ``--full`` of the query-less stickers with all three
   slots held by waiting rounds (what a running game has at the head of the queue: the pick
   must pass over them).
2. VACUUM ANALYZE and CHECKPOINT.
3. ``--picks`` picks per rule set, in blocks of 25 alternating between the two rule sets
   (each installed from its frozen copy before its block): a player asks for a sticker
   (``game.services.rounds.label_next``, timed) and skips it (not timed), so every pick makes
   a new round and the next player's pick sees it. Prints p50/p95 per rule set.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.databases import bench_database_url, database_recreate, django_setup  # noqa: E402

GAME = "bench-pick"
BLOCK = 25
RULES = {"counts every sticker (0004)": "0004_query_counts",
         "index walk (current)": None}

FILL_SQL = [
    """INSERT INTO annotation_sticker (sticker_id, file, still, media_type, content_hash,
         size_bytes, width, height, frame_count, is_animated, created_at)
       SELECT 'p' || lpad(i::text, 8, '0') || '.png', 'stickers/bench.png', 'stills/bench.png',
              'png', md5(i::text) || md5((-i)::text), 100, 64, 64, 1, false, now()
       FROM generate_series(1, %(stickers)s) i""",
    """INSERT INTO annotation_query (sticker_id, text, normalized, language, source, created_at)
       SELECT s.id, 'query ' || s.id || ' ' || j, 'query ' || s.id || ' ' || j, 'en', 'import',
              now()
       FROM annotation_sticker s, generate_series(1, 10) j WHERE j <= s.id %% 11""",
    """INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email,
                              is_staff, is_active, date_joined)
       SELECT '!', false, 'player' || lpad(i::text, 4, '0'), '', '', '', false, true, now()
       FROM generate_series(1, %(players)s) i""",
    """INSERT INTO game_player (user_id, language, created_at)
       SELECT id, 'en', now() FROM auth_user WHERE username LIKE 'player%%'""",
    """INSERT INTO game_game (name, labelers_per_sticker, candidate_count, encoder_version,
                             lease_seconds, created_at)
       VALUES (%(game)s, 3, 9, '', 600, now())""",
    # the head of the queue: query-less stickers whose three slots are held by waiting rounds
    """INSERT INTO game_round (game_id, sticker_id, language, labeler_id, status,
         labeler_expires_at, labeled_at, labeler_submission_id, candidates,
         retriever_submission_id, review, created_at)
       SELECT (SELECT id FROM game_game WHERE name = %(game)s), s.id, 'en', u.id, 'waiting',
              now(), now(), '', '{}', '', '', now()
       FROM (SELECT id FROM annotation_sticker WHERE id %% 11 = 0 ORDER BY id
             LIMIT %(full)s) s,
            (SELECT id FROM auth_user WHERE username LIKE 'player%%' ORDER BY id DESC
             LIMIT 3) u""",
]


def pick_fill(*, stickers: int, players: int, full: int) -> None:
    from django.db import connection, transaction

    params = {"stickers": stickers, "players": players, "full": full, "game": GAME}
    with transaction.atomic(), connection.cursor() as cur:
        for sql in FILL_SQL:
            t0 = time.perf_counter()
            cur.execute(sql, params)
            print(f"  {time.perf_counter() - t0:6.1f} s  {' '.join(sql.split())[:70]}",
                  flush=True)
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
        cur.execute("CHECKPOINT")


def rules_install(migration: str | None) -> None:
    from django.db import connection

    from game.sql import current_text, frozen

    with connection.cursor() as cur:
        cur.execute(frozen(migration) if migration else current_text())


def picks_time(*, picks: int) -> dict[str, list[float]]:
    """Milliseconds per pick for each rule set, blocks alternating."""
    from django.contrib.auth import get_user_model

    from game.services.rounds import label_next, label_skip

    players = list(get_user_model().objects.filter(username__startswith="player")
                   .order_by("id")[:max(picks // 2, 50)])
    seen: dict[str, list[float]] = {name: [] for name in RULES}
    n = 0
    while min(len(v) for v in seen.values()) < picks:
        for name, migration in RULES.items():
            rules_install(migration)
            for _ in range(BLOCK):
                user = players[n % len(players)]
                n += 1
                t0 = time.perf_counter()
                round_ = label_next(user=user, game_name=GAME)
                seen[name].append((time.perf_counter() - t0) * 1000)
                if round_ is None:
                    raise SystemExit(f"{user}: nothing left to label")
                label_skip(user=user, round_id=round_.pk)
    rules_install(None)  # leave the current rules installed
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stickers", type=int, default=50_000)
    parser.add_argument("--players", type=int, default=400)
    parser.add_argument("--full", type=int, default=1_000,
                        help="query-less stickers whose slots are all held")
    parser.add_argument("--picks", type=int, default=200, help="picks timed per rule set")
    parser.add_argument("--no-fill", action="store_true")
    args = parser.parse_args()

    url = bench_database_url("_pick")
    if not args.no_fill:
        database_recreate(url)
    django_setup(url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if not args.no_fill:
        pick_fill(stickers=args.stickers, players=args.players, full=args.full)
    seen = picks_time(picks=args.picks)
    print(f"\n{args.stickers:,} stickers, {args.full:,} at the head with full slots, "
          f"{args.picks} picks per rule set, cpu {os.cpu_count()}")
    print("| label pick | p50 ms | p95 ms | mean ms |\n|---|---:|---:|---:|")
    for name, ms in seen.items():
        a = np.asarray(ms)
        print(f"| {name} | {np.percentile(a, 50):.1f} | {np.percentile(a, 95):.1f} | "
              f"{a.mean():.1f} |")


if __name__ == "__main__":
    main()
