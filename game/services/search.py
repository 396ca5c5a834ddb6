"""Library search by text: BM25 over each sticker's queries, one index per language, used by
the labeler's preview, the search box and ``GET /api/stickers/search/``.

Kept fresh as queries arrive: each search reads the language's change signature (the largest
id and the sum of ``game.QueryChange``, a log written by triggers on ``annotation_query``, a
handful of rows once compacted: well under a millisecond whatever the library's size) and
rebuilds the process's index when it changed. Counting the language's queries instead, as
the first version did, read every query row on every search (~14 ms at 20,000 queries, a
third of a second at a million). A rebuild reads every query of the language once
(StickerQueries: 1,100 stickers in about 0.1 s; 100,000 stickers with 10 queries each: see
the README's search bench).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass

from django.db import connection, transaction

from annotation.errors import InputError
from annotation.models import Query, Sticker
from game.bm25 import QueryIndex

SEARCH_MAX_K = 50
SEARCH_MAX_CHARS = 200
# Change-log rows past which a search folds the log into one row per language first (one
# short transaction; the signature's sum and largest id stay what they were).
CHANGE_LOG_COMPACT_AT = 256

_lock = threading.Lock()
_indexes: dict[str, tuple[tuple, QueryIndex]] = {}  # language -> (signature, index)


@dataclass(frozen=True)
class SearchHit:
    sticker: Sticker
    score: float


_SIGNATURE_SQL = """
SELECT coalesce(max(id), 0), coalesce(sum(changes), 0), count(*)
FROM game_querychange WHERE language = %s OR language = '*'
"""


def _signature(language: str) -> tuple[int, int]:
    """(largest id, sum of changes) of the language's change log: both move when a change to
    its queries commits (a rolled-back test's rows leave the sequence ahead, so a new change
    never repeats an old signature)."""
    with connection.cursor() as cur:
        cur.execute(_SIGNATURE_SQL, [language])
        last, changes, rows = cur.fetchone()
    if rows > CHANGE_LOG_COMPACT_AT:
        change_log_compact()
    return last, changes


def change_log_compact() -> None:
    """Folds the change log into one row per language: its id the largest folded id, its
    changes their sum, so every signature stays the same. One compaction at a time (an
    advisory lock, skipped when held); writers' rows committed meanwhile are left alone."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(1406216, 0)")
        if not cur.fetchone()[0]:
            return
        cur.execute("DELETE FROM game_querychange RETURNING id, language, changes")
        folded: dict[str, list[int]] = {}
        for pk, language, changes in cur.fetchall():
            last, total = folded.get(language, [0, 0])
            folded[language] = [max(last, pk), total + changes]
        for language, (pk, total) in folded.items():
            cur.execute("INSERT INTO game_querychange (id, language, changes) "
                        "VALUES (%s, %s, %s)", [pk, language, total])


def query_index(*, language: str) -> QueryIndex:
    """The language's BM25 index, rebuilt when its queries changed since the last build."""
    signature = _signature(language)
    with _lock:
        cached = _indexes.get(language)
        if cached is not None and cached[0] == signature:
            return cached[1]
        docs: dict[int, list[str]] = defaultdict(list)
        for sticker_pk, text in (Query.objects.filter(language=language)
                                 .order_by("sticker_id", "id")
                                 .values_list("sticker_id", "text").iterator(chunk_size=5000)):
            docs[sticker_pk].append(text)
        index = QueryIndex.build(docs, language)
        _indexes[language] = (signature, index)
        return index


def stickers_search(*, text: str, language: str, k: int = 10) -> list[SearchHit]:
    """The k stickers whose queries best match ``text`` (BM25), best first."""
    text = text.strip()
    if not text:
        raise InputError("q", "type something to search for")
    if len(text) > SEARCH_MAX_CHARS:
        raise InputError("q", f"at most {SEARCH_MAX_CHARS} characters")
    if not language:
        raise InputError("language", "en or zh (the language of the queries searched)")
    if not 1 <= k <= SEARCH_MAX_K:
        raise InputError("k", f"between 1 and {SEARCH_MAX_K}")
    hits = query_index(language=language).search(text, k=k)
    stickers = Sticker.objects.in_bulk([pk for pk, _ in hits])
    return [SearchHit(stickers[pk], score) for pk, score in hits if pk in stickers]
