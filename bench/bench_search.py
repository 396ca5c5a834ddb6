"""Library search latency on a big library: our search beside bm25s's own ``retrieve`` on the
same index, in the same run.

    .venv/bin/python bench/bench_search.py                         # 100,000 stickers, en + zh
    .venv/bin/python bench/bench_search.py --no-fill --searches 1000  # time the existing fill
    .venv/bin/python bench/bench_search.py --languages en --stickers 20000
    DATABASE_URL=postgres://... .venv/bin/python bench/bench_search.py   # any server

1. Creates (drops first) the database ``<DATABASE_URL's name>_search`` (the embedded server's
   ``stickersim_search`` when DATABASE_URL is unset), migrates it and fills ``--stickers``
   stickers with ``--queries`` queries each per language (COPY; a bench fill, not the import
   path). Queries are synthetic: 1-3 words drawn with a Zipf law (s = 1.1) from a vocabulary of
   made-up words (English: syllables; Chinese: two or three Han characters written without
   spaces, so jieba has to cut them as it cuts real ones).
2. VACUUM ANALYZE and CHECKPOINT; then the first search of each language builds the process's
   index (its time is printed: every process pays it once, and again after the queries of the
   language change).
3. Times ``--searches`` searches per language. The texts are drawn from the stored queries (so
   they match), 1-3 words. Each text runs, in an order shuffled per text:
   - **ours**: ``game.services.search.stickers_search`` (what the API view calls): the
     freshness check, tokenising, BM25 scores, top k, the Sticker rows of the hits;
   - **bm25s**: ``BM25.retrieve([tokens], k)`` on the very index ours holds, the tokens given
     (bm25s has no jieba: tokenising is ours to do in any case);
   - **API**: ``GET /api/stickers/search/?q=&language=`` through Django's test client as an
     annotator (auth, DRF, the sticker cards' JSON), in-process, no network.
   It prints p50/p95/p99 per path and the p95 ratio ours / bm25s (target <= 1.5x, p95 < 50 ms).

The machine may be shared: run it twice; ratios in one run are the figures to compare.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.databases import bench_database_url, database_recreate, django_setup  # noqa: E402

K = 10
ZIPF_S = 1.1
EN_SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai",
                                                                "ou", "ee")]
# Common CJK Unified Ideographs: the first 3,000 code points of the block.
ZH_CHARS = [chr(0x4E00 + i) for i in range(0, 6000, 2)]








def vocabulary(language: str, size: int, rng: random.Random) -> list[str]:
    """``size`` distinct made-up words of the language."""
    words: set[str] = set()
    while len(words) < size:
        if language == "zh":
            words.add("".join(rng.choice(ZH_CHARS) for _ in range(rng.choice((2, 2, 3)))))
        else:
            words.add("".join(rng.choice(EN_SYLLABLES) for _ in range(rng.choice((1, 2, 2, 3)))))
    return sorted(words)


def synthetic_queries(language: str, *, stickers: int, per_sticker: int, vocab_size: int,
                      seed: int) -> list[list[str]]:
    """Per sticker, ``per_sticker`` distinct queries of 1-3 Zipf-drawn words (zh: no spaces)."""
    rng = random.Random(seed)
    vocab = vocabulary(language, vocab_size, rng)
    ranks = np.arange(1, vocab_size + 1, dtype=np.float64)
    weights = ranks ** -ZIPF_S
    weights /= weights.sum()
    draws = np.random.default_rng(seed).choice(vocab_size, size=stickers * per_sticker * 4,
                                               p=weights)
    pos = 0
    sep = "" if language == "zh" else " "
    out = []
    for _ in range(stickers):
        texts: dict[str, None] = {}
        while len(texts) < per_sticker:
            n = rng.choice((1, 2, 2, 3))
            if pos + n > len(draws):
                pos = 0
            texts[sep.join(vocab[i] for i in draws[pos:pos + n])] = None
            pos += n
        out.append(list(texts))
    return out


def library_fill(*, stickers: int, per_sticker: int, languages: list[str], vocab_size: int
                 ) -> None:
    """``stickers`` stickers (one SQL pass) and their queries per language (COPY)."""
    from django.db import connection

    from annotation.queries_text import query_normalize

    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            """INSERT INTO annotation_sticker (sticker_id, file, still, media_type, content_hash,
                 size_bytes, width, height, frame_count, is_animated, created_at)
               SELECT 's' || lpad(i::text, 8, '0') || '.png', 'stickers/bench.png',
                      'stills/bench.png', 'png', md5(i::text) || md5((-i)::text), 100, 64, 64,
                      1, false, now()
               FROM generate_series(1, %s) i""", [stickers])
        cur.execute("SELECT id FROM annotation_sticker ORDER BY id")
        pks = [pk for (pk,) in cur.fetchall()]
    print(f"  {time.perf_counter() - t0:6.1f} s  {stickers:,} stickers", flush=True)
    for seed, language in enumerate(languages):
        t0 = time.perf_counter()
        per = synthetic_queries(language, stickers=stickers, per_sticker=per_sticker,
                                vocab_size=vocab_size, seed=seed + 1)
        buf = io.StringIO()
        for pk, texts in zip(pks, per, strict=True):
            for text in texts:
                buf.write(f"{pk}\t{text}\t{query_normalize(text)}\t{language}\timport\tnow\n")
        made = time.perf_counter() - t0
        with connection.cursor() as cur:
            raw = cur.cursor  # psycopg's own cursor: COPY
            with raw.copy("COPY annotation_query (sticker_id, text, normalized, language, "
                          "source, created_at) FROM STDIN WITH (FORMAT text)") as copy:
                copy.write(buf.getvalue())
        print(f"  {time.perf_counter() - t0:6.1f} s  {stickers * per_sticker:,} {language} "
              f"queries ({made:.1f} s to make them)", flush=True)


def database_settle() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
        cur.execute("CHECKPOINT")


def annotator_client():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    user = get_user_model().objects.filter(username="bench-player").first()
    if user is None:
        user = get_user_model().objects.create_user("bench-player", password="bench-player-pw")
        user.groups.add(Group.objects.get_or_create(name="annotators")[0])
    client = Client()
    client.force_login(user)
    return client


def search_texts(language: str, n: int, seed: int) -> list[str]:
    """``n`` texts drawn from the stored queries of the language (they match something)."""
    from annotation.models import Query

    rng = random.Random(seed)
    last = Query.objects.filter(language=language).order_by("-id").values_list(
        "id", flat=True).first() or 0
    ids = rng.sample(range(1, last + 1), min(n * 3, last))
    texts = list(Query.objects.filter(language=language, id__in=ids)
                 .values_list("text", flat=True)[:n])
    rng.shuffle(texts)
    return texts


def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "p99": float(np.percentile(a, 99)), "mean": float(a.mean())}


def language_times(language: str, *, searches: int, seed: int) -> dict[str, dict[str, float]]:
    """Milliseconds per search on each path, the paths interleaved text by text."""
    from game.bm25 import tokenize
    from game.services.search import query_index, stickers_search

    t0 = time.perf_counter()
    index = query_index(language=language)  # the build every process pays once
    build_s = time.perf_counter() - t0
    client = annotator_client()
    texts = search_texts(language, searches, seed)
    rng = random.Random(seed)
    seen: dict[str, list[float]] = {"ours": [], "bm25s": [], "api": []}
    agree = 0

    def ours(text: str) -> list:
        return [h.sticker.pk for h in stickers_search(text=text, language=language, k=K)]

    def peer(text: str) -> list:
        tokens = [t for t in tokenize(text, language) if t in index.retriever.vocab_dict]
        docs, _ = index.retriever.retrieve([tokens], k=K, show_progress=False)
        return [index.keys[i] for i in docs[0]]

    def api(text: str) -> int:
        response = client.get("/api/stickers/search/", {"q": text, "language": language},
                               HTTP_HOST="localhost")
        assert response.status_code == 200, response.content[:200]
        return len(response.json()["results"])

    for text in texts[:20]:  # warm: plans, caches, jieba's dictionary
        ours(text), peer(text), api(text)
    for text in texts:
        order = ["ours", "bm25s", "api"]
        rng.shuffle(order)
        for path in order:
            fn = {"ours": ours, "bm25s": peer, "api": api}[path]
            t = time.perf_counter()
            fn(text)
            seen[path].append((time.perf_counter() - t) * 1000)
    for text in texts:  # the same top-k scores (tied stickers may be cut in another order)
        ours_scores = [s for _, s in index.search(text, k=K)]
        tokens = [t for t in tokenize(text, language) if t in index.retriever.vocab_dict]
        _, scores = index.retriever.retrieve([tokens], k=K, show_progress=False)
        agree += bool(np.allclose(ours_scores, scores[0][:len(ours_scores)], atol=1e-4))
    out = {path: percentiles(ms) for path, ms in seen.items()}
    out["index"] = {"build_s": build_s, "stickers": len(index.keys),
                    "terms": len(index.retriever.vocab_dict), "agree": agree / len(texts)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stickers", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=10, help="queries per sticker and language")
    parser.add_argument("--languages", default="en,zh")
    parser.add_argument("--vocab", type=int, default=30_000, help="made-up words per language")
    parser.add_argument("--searches", type=int, default=500, help="searches timed per language")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-fill", action="store_true", help="time the existing fill")
    args = parser.parse_args()
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
    url = bench_database_url("_search")
    if not args.no_fill:
        database_recreate(url)
    django_setup(url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # --no-fill: newer migrations of the code under test
    if not args.no_fill:
        library_fill(stickers=args.stickers, per_sticker=args.queries, languages=languages,
                     vocab_size=args.vocab)
        database_settle()
    print(f"\n{args.stickers:,} stickers x {args.queries} queries per language, k = {K}, "
          f"{args.searches} searches per language, cpu {os.cpu_count()}")
    print("| language | path | p50 ms | p95 ms | p99 ms | mean ms |\n|---|---|---:|---:|---:|---:|")
    for language in languages:
        t = language_times(language, searches=args.searches, seed=args.seed)
        for path in ("ours", "bm25s", "api"):
            p = t[path]
            print(f"| {language} | {path} | {p['p50']:.2f} | {p['p95']:.2f} | {p['p99']:.2f} | "
                  f"{p['mean']:.2f} |")
        ix = t["index"]
        print(f"| {language} | ours / bm25s p95 | {t['ours']['p95'] / t['bm25s']['p95']:.2f}x | "
              f"API / bm25s p95 {t['api']['p95'] / t['bm25s']['p95']:.2f}x | index build "
              f"{ix['build_s']:.1f} s | {ix['stickers']:,} docs, {ix['terms']:,} terms, same "
              f"top-{K} scores {ix['agree']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
