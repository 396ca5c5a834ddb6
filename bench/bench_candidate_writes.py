"""Candidate sets, candidates and tasks written for N anchors: binary COPY in chunks
(``annotation.services.candidate_sets.candidate_sets_write``) beside the ORM ``bulk_create``
path it replaced (5,000 rows per INSERT), same rows, same database, same run.

A fresh database on the embedded PostgreSQL (dropped first), N metadata-only stickers (no
files: nothing here reads pixels), k distinct synthetic candidates per anchor::

    python bench/bench_candidate_writes.py --anchors 100000 --k 20

Prints wall time, rows per second (sets + candidates + tasks) and the peak of Python/NumPy
allocations (tracemalloc) of each path.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
import urllib.parse
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _database(name: str) -> str:
    import psycopg

    from config.embedded_postgres import database_url, default_pgdata, ensure_server

    pgdata = Path(os.environ.get("STICKERSIM_PGDATA", default_pgdata(REPO / "var")))
    server = urllib.parse.urlsplit(database_url(ensure_server(pgdata)))
    with psycopg.connect(urllib.parse.urlunsplit(server._replace(path="/postgres")),
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urllib.parse.urlunsplit(server._replace(path=f"/{name}"))


def _orm_write(campaign, iteration, version, ids, indices, scores) -> None:
    """The write as it was before COPY (encoder/services.py ``_store`` at 15955ca)."""
    from django.db import transaction

    from annotation.models import Candidate, CandidateSet, Task

    batch = 5000
    per_slice = max(1, batch // indices.shape[1])
    with transaction.atomic():
        for start in range(0, len(ids), per_slice):
            rows = range(start, min(start + per_slice, len(ids)))
            sets = CandidateSet.objects.bulk_create(
                [CandidateSet(campaign=campaign, anchor_id=int(ids[r]), iteration=iteration,
                              encoder_version=version, retrieval_view="image") for r in rows])
            Candidate.objects.bulk_create(
                [Candidate(candidate_set=s, sticker_id=int(ids[j]), rank=rank,
                           score=float(score))
                 for s, r in zip(sets, rows, strict=True)
                 for rank, (j, score) in enumerate(zip(indices[r], scores[r], strict=True),
                                                   start=1)], batch_size=batch)
            Task.objects.bulk_create(
                [Task(candidate_set=s, campaign=campaign, anchor_id=s.anchor_id,
                      iteration=iteration) for s in sets], batch_size=batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anchors", type=int, default=20_000)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--database", default="stickersim_bench_writes")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = _database(args.database)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from annotation.models import Campaign, Candidate, Sticker
    from annotation.services.candidate_sets import Retrieved, candidate_sets_write
    from encoder.embedding_services import EmbeddingMatrix

    call_command("migrate", verbosity=0)
    n, k = args.anchors, args.k
    Sticker.objects.bulk_create(
        (Sticker(sticker_id=f"b{i:07d}.png", content_hash=f"{i:064x}", size_bytes=1, width=1,
                 height=1, media_type="png") for i in range(n)), batch_size=10_000)
    ids = np.array(sorted(Sticker.objects.values_list("id", flat=True)), np.int64)
    rows = np.arange(n)
    indices = (rows[:, None] + 1 + np.arange(k)[None, :] * 7919) % n  # k distinct, never self
    scores = np.linspace(1, 0, k, dtype=np.float32)[None, :].repeat(n, axis=0)
    matrix = EmbeddingMatrix(ids, np.zeros((n, 1), np.float32))
    result = Retrieved(rows, indices, scores, "image")
    total_rows = n * (k + 2)
    out = []
    for name in ("COPY (ours)", "ORM bulk_create (before)"):
        campaign = Campaign.objects.create(name=name[:4], encoder_version="v")
        tracemalloc.start()
        started = time.perf_counter()
        if name.startswith("COPY"):
            candidate_sets_write(campaign=campaign, iteration=1, version="v", matrix=matrix,
                                 results=[result])
        else:
            _orm_write(campaign, 1, "v", ids, indices, scores)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert Candidate.objects.filter(candidate_set__campaign=campaign).count() == n * k
        out.append((name, seconds, total_rows / seconds, peak / 2**20))
    connection.close()
    print(f"{n:,} anchors x {k} candidates: {total_rows:,} rows (sets + candidates + tasks)")
    print("| write | wall | rows/s | peak Python/NumPy memory |")
    print("| --- | --- | --- | --- |")
    for name, seconds, rate, peak in out:
        print(f"| {name} | {seconds:.1f} s | {rate:,.0f} | {peak:,.0f} MiB |")
    print(f"COPY is {out[1][1] / out[0][1]:.1f}x faster")


if __name__ == "__main__":
    main()
