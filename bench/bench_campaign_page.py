"""The campaign page and its stats API on a big campaign: 2,000,000 tasks, 1,000,000 answers.

    .venv/bin/python bench/bench_campaign_page.py                      # fill, then time
    .venv/bin/python bench/bench_campaign_page.py --no-fill --repeats 5   # time again
    DATABASE_URL=postgres://... .venv/bin/python bench/bench_campaign_page.py  # any server

1. Creates (drops first) the database ``<DATABASE_URL's name>_page`` (the embedded server's
   ``stickersim_page`` when DATABASE_URL is unset), migrates it and fills one campaign in SQL
   (``generate_series``, a bench fill, not the import path): ``--anchors`` stickers x 2
   iterations = candidate sets and tasks; ``--answers`` answers from 50 annotators spread over
   30 days, of which ``--overlap`` tasks answered twice (the agreement's tasks: their 20
   candidates are written, and each answer selects 0-4 of them, overlapping); the other
   answers select 2 stickers each. Skips (1 per 50 answers), 1,000 expired and 200 live leases,
   half the answered tasks done. Candidate rows are written for the overlapping tasks only
   (the page reads no other candidate; 40 M rows would only lengthen the fill). Every
   statement goes through the triggers that keep the campaign counts (migration 0008), so the
   fill's times include them; ``manage.py campaign_counts --check``'s service then compares
   the counts with a direct count of the rows (printed, with its time).
2. VACUUM ANALYZE and CHECKPOINT, so the timings see neither the fill's dirty pages nor
   missing statistics.
3. Times, ``--repeats`` times each in alternation, as a logged-in staff user through Django's
   test client (the whole view: queries, template, no network): GET the campaign page and GET
   the stats API. Prints the best and median wall time of each, the CPU time the PostgreSQL
   backend and this process spent in the best one, and the query count. Parallel query
   workers are separate processes whose CPU the backend's does not include: ``--serial``
   turns them off, so that the backend's CPU is the whole query cost.

The machine is shared with other work: the best of the repeats is the wall figure least
disturbed, and the CPU times (the server's backend and Django's) are what the request costs
whatever else runs; on an idle machine wall ~ their sum.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.databases import bench_database_url, database_recreate, django_setup  # noqa: E402

CAMPAIGN = "bench-page"
ANNOTATORS = 50
CANDIDATES = 20








# Each statement is one pass in the server; sizes are parameters (%(name)s).
FILL_SQL = [
    # annotators: users 1..50 (the staff user is created by Django afterwards)
    """INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email,
                              is_staff, is_active, date_joined)
       SELECT '!', false, 'annotator' || lpad(i::text, 3, '0'), '', '', '', false, true, now()
       FROM generate_series(1, %(annotators)s) i""",
    """INSERT INTO annotation_campaign (name, description, candidate_count, encoder_version,
         iteration2_source, iteration2_encoder_version, annotators_per_task, lease_seconds,
         snapshot_include_unreviewed, train_on_export, train_config, created_at)
       VALUES (%(campaign)s, 'bench fill', 20, 'bench', 'next_page', '', 1, 600, false,
               false, '{}', now() - interval '31 days')""",
    """INSERT INTO annotation_sticker (sticker_id, file, still, media_type, content_hash,
         size_bytes, width, height, frame_count, is_animated, created_at)
       SELECT 'p' || lpad(i::text, 8, '0') || '.png', 'stickers/bench.png', 'stills/bench.png',
              'png', md5(i::text) || md5((-i)::text), 100, 64, 64, 1, false, now()
       FROM generate_series(1, %(anchors)s) i""",
    # candidate sets and tasks: ids 1..2N, anchor-major (as an import writes them)
    """INSERT INTO annotation_candidateset (id, campaign_id, anchor_id, iteration,
         encoder_version, retrieval_view, created_at)
       SELECT s, (SELECT id FROM annotation_campaign WHERE name = %(campaign)s),
              (s + 1) / 2, 2 - s %% 2, 'bench', CASE WHEN s %% 2 = 1 THEN 'image'
              ELSE 'next_page' END, now()
       FROM generate_series(1, 2 * %(anchors)s) s""",
    """INSERT INTO annotation_task (id, candidate_set_id, campaign_id, anchor_id, iteration,
         status, held_until, created_at)
       SELECT id, id, campaign_id, anchor_id, iteration, 'open', NULL, now()
       FROM annotation_candidateset""",
    # The answered tasks: a hash-chosen share of the tasks of both iterations; the first
    # `overlap` of them are answered twice. Stored in a scratch table the fill drops at the end.
    """CREATE UNLOGGED TABLE bench_answered AS
       SELECT row_number() OVER (ORDER BY t) AS n, t AS task_id
       FROM generate_series(1, 2 * %(anchors)s) t
       WHERE abs(hashint4(t)) %% 1000
             < ceil(1000.0 * (%(answers)s - %(overlap)s) / (2 * %(anchors)s))
       LIMIT %(answers)s - %(overlap)s""",
    # candidates of the overlapping tasks: 20 stickers after the anchor, modulo N
    """INSERT INTO annotation_candidate (candidate_set_id, sticker_id, rank, score)
       SELECT a.task_id, ((t.anchor_id + r * 7 - 1) %% %(anchors)s) + 1, r, 1.0 - r / 100.0
       FROM bench_answered a JOIN annotation_task t ON t.id = a.task_id,
            generate_series(1, 20) r
       WHERE a.n <= %(overlap)s""",
    # answers: one per answered task (annotator by task), a second on the overlapping ones
    """INSERT INTO annotation_annotation (task_id, annotator_id, duration_ms, submission_id,
                                         created_at)
       SELECT a.task_id, 1 + (a.task_id * 7 + j) %% %(annotators)s,
              1000 + ((a.task_id * 2654435761 + j * 97) %% 20000), '',
              now() - interval '30 days' + (a.n * interval '30 days') / %(answers)s
                    + j * interval '17 minutes'
       FROM bench_answered a, generate_series(0, 1) j
       WHERE j = 0 OR a.n <= %(overlap)s""",
    # selections: on overlapping tasks 0-4 candidates from a rank offset (overlapping sets);
    # elsewhere two stickers near the anchor
    """INSERT INTO annotation_annotation_selected (annotation_id, sticker_id)
       SELECT an.id, c.sticker_id
       FROM annotation_annotation an
       JOIN bench_answered a ON a.task_id = an.task_id AND a.n <= %(overlap)s
       JOIN annotation_candidate c ON c.candidate_set_id = an.task_id
       WHERE c.rank > (an.id %% 3) AND c.rank <= (an.id %% 3) + (a.n %% 5)""",
    """INSERT INTO annotation_annotation_selected (annotation_id, sticker_id)
       SELECT an.id, ((t.anchor_id + s * 3 - 1) %% %(anchors)s) + 1
       FROM annotation_annotation an
       JOIN bench_answered a ON a.task_id = an.task_id AND a.n > %(overlap)s
       JOIN annotation_task t ON t.id = an.task_id, generate_series(1, 2) s""",
    """UPDATE annotation_task SET status = 'done'
       WHERE id IN (SELECT task_id FROM bench_answered WHERE n %% 2 = 0)""",
    """INSERT INTO annotation_skip (task_id, annotator_id, created_at)
       SELECT task_id + 1, 1 + (task_id * 11) %% %(annotators)s, now() - interval '1 day'
       FROM bench_answered WHERE n %% 50 = 0""",
    """INSERT INTO annotation_lease (task_id, annotator_id, expires_at, created_at)
       SELECT 2 * %(anchors)s - i, 1 + i %% %(annotators)s,
              now() + CASE WHEN i < 200 THEN interval '5 minutes'
                           ELSE -interval '1 hour' END, now()
       FROM generate_series(0, 1199) i""",
    "DROP TABLE bench_answered",
    # the explicit ids above leave the sequences behind
    """SELECT setval(pg_get_serial_sequence(tbl, 'id'), (SELECT max(id) FROM
         annotation_candidateset)) FROM unnest(ARRAY['annotation_candidateset',
         'annotation_task']) tbl""",
]


def page_fill(*, anchors: int, answers: int, overlap: int) -> float:
    """The campaign in SQL; returns the seconds it took (migrate not counted)."""
    from django.db import connection, transaction

    params = {"anchors": anchors, "answers": answers, "overlap": overlap,
              "annotators": ANNOTATORS, "campaign": CAMPAIGN}
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        for sql in FILL_SQL:
            t0 = time.perf_counter()
            cur.execute(sql, params)
            print(f"  {time.perf_counter() - t0:7.1f} s  {' '.join(sql.split())[:70]}",
                  flush=True)
    return time.perf_counter() - started


def counts_check() -> None:
    """The trigger-kept counts against a direct count of the filled rows."""
    from annotation.services.campaign_counts import campaign_counts_check

    t0 = time.perf_counter()
    mismatches = campaign_counts_check()
    print(f"counts check: {len(mismatches)} mismatches ({time.perf_counter() - t0:.1f} s)")
    for mismatch in mismatches[:10]:
        print(f"  {mismatch}")


def database_settle() -> None:
    """Statistics and the visibility map now, and the fill's dirty pages on disk."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
        cur.execute("CHECKPOINT")


def staff_client():
    """A Django test client logged in as a staff superuser (created once)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.filter(username="bench-staff").first() or \
        get_user_model().objects.create_superuser("bench-staff", "", "bench-staff-pw")
    client = Client()
    client.force_login(user)
    return client


def _backend() -> psutil.Process:
    """The PostgreSQL server process serving this process's connection."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return psutil.Process(cur.fetchone()[0])


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def time_get(client, path: str) -> dict[str, float]:
    """One GET through the whole Django stack: wall seconds, CPU seconds of the database
    backend and of this process (the steadier figures on a shared machine), queries run."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    backend, here = _backend(), psutil.Process()
    with CaptureQueriesContext(connection) as queries:
        db0, py0, t0 = _cpu(backend), _cpu(here), time.perf_counter()
        response = client.get(path, HTTP_HOST="localhost")
        seconds = time.perf_counter() - t0
        db, py = _cpu(backend) - db0, _cpu(here) - py0
    if response.status_code != 200:
        raise SystemExit(f"GET {path}: {response.status_code}")
    return {"wall": seconds, "db_cpu": db, "py_cpu": py, "queries": len(queries)}


def page_times(*, campaign: str, repeats: int) -> dict[str, dict[str, float]]:
    """Per request (the page, the stats API), alternating ``repeats`` times: best and median
    wall milliseconds, and the database's and this process's CPU milliseconds in the best."""
    client = staff_client()
    paths = {"page": f"/campaigns/{campaign}/", "stats_api": f"/api/campaigns/{campaign}/stats/"}
    for path in paths.values():
        time_get(client, path)  # warm: plans, caches, the first connection
    seen: dict[str, list[dict]] = {k: [] for k in paths}
    for _ in range(repeats):
        for key, path in paths.items():
            seen[key].append(time_get(client, path))
    out = {}
    for key, runs in seen.items():
        best = min(runs, key=lambda r: r["wall"])
        out[key] = {"best_ms": round(best["wall"] * 1000, 1),
                    "median_ms": round(statistics.median(r["wall"] for r in runs) * 1000, 1),
                    "db_cpu_ms": round(best["db_cpu"] * 1000, 1),
                    "py_cpu_ms": round(best["py_cpu"] * 1000, 1), "queries": best["queries"]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anchors", type=int, default=1_000_000, help="tasks = 2 x anchors")
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--overlap", type=int, default=50_000,
                        help="tasks answered twice (agreement), within --answers")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-fill", action="store_true", help="time the existing fill")
    parser.add_argument("--serial", action="store_true",
                        help="no parallel query workers: the backend's CPU is then all of it")
    args = parser.parse_args()
    url = bench_database_url("_page")
    if not args.no_fill:
        database_recreate(url)
    django_setup(url)
    if not args.no_fill:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        seconds = page_fill(anchors=args.anchors, answers=args.answers, overlap=args.overlap)
        print(f"fill: {seconds:.1f} s")
        counts_check()
        database_settle()
    if args.serial:
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("SET max_parallel_workers_per_gather = 0")
    times = page_times(campaign=CAMPAIGN, repeats=args.repeats)
    print(f"\n{2 * args.anchors:,} tasks, {args.answers:,} answers "
          f"({args.overlap:,} tasks answered twice), best of {args.repeats}:")
    print("| request | best ms | median ms | PostgreSQL CPU ms | Django CPU ms | queries |\n"
          "|---|---:|---:|---:|---:|---:|")
    for key, t in times.items():
        print(f"| {key} | {t['best_ms']} | {t['median_ms']} | {t['db_cpu_ms']} | "
              f"{t['py_cpu_ms']} | {t['queries']} |")


if __name__ == "__main__":
    main()
