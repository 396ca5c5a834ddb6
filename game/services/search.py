"""Library search by text: BM25 over each sticker's queries, one index per language, used by
the labeler's preview, the search box and ``GET /api/stickers/search/``.

Kept fresh as queries arrive: each search reads the language's change signature (the largest
id and the sum of ``game.QueryChange``, a log written by triggers on ``annotation_query``, a
handful of rows once compacted: well under a millisecond whatever the library's size) and
rebuilds the process's index when it changed (from ``REBUILD_IN_BACKGROUND_AT`` stickers on,
in a thread while the old index answers). Counting the language's queries instead, as
the first version did, read every query row on every search (~14 ms at 20,000 queries, a
third of a second at a million). A rebuild reads every query of the language once
(StickerQueries: 1,100 stickers in about 0.1 s; 100,000 stickers with 10 queries each: see
the README's search bench).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass

from django.db import connection, transaction

from annotation.errors import InputError
from annotation.models import Query, Sticker
from game.bm25 import QueryIndex
from game.services.tower import TowerState, tower_state
from game.tower import blend

SEARCH_MAX_K = 50
SEARCH_MAX_CHARS = 200
# Change-log rows past which a search folds the log into one row per language first (one
# short transaction; the signature's sum and largest id stay what they were).
CHANGE_LOG_COMPACT_AT = 256
# Indexed stickers from which a changed index is rebuilt by a thread while the old one serves
# (about 3 s of rebuild in a request on the 2-core machine: 10 queries per sticker).
REBUILD_IN_BACKGROUND_AT = 10_000

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_rebuilding: dict[str, threading.Thread] = {}  # language -> its rebuild thread
_indexes: dict[str, tuple[tuple, QueryIndex]] = {}  # language -> (signature, index)
_towers: dict[str, tuple[tuple, TowerState | None]] = {}  # language -> (signatures, state)


@dataclass(frozen=True)
class SearchHit:
    sticker: Sticker
    score: float  # BM25 score, or with the tower the blended reciprocal-rank score
    source: str = "bm25"  # "bm25": matched its queries; "tower": no queries, the text tower's


_SIGNATURE_SQL = """
SELECT coalesce(max(id), 0), coalesce(sum(changes), 0), count(*),
       (SELECT coalesce(max(t.id), 0) FROM game_termvector t)
FROM game_querychange WHERE language = %s OR language = '*'
"""


def _signatures(language: str) -> tuple[tuple[int, int], int]:
    """((largest id, sum of changes) of the language's change log, largest term-vector id).
    The first moves when a change to its queries commits (a rolled-back test's rows leave the
    sequence ahead, so a new change never repeats an old signature); the second when term
    vectors are computed again."""
    with connection.cursor() as cur:
        cur.execute(_SIGNATURE_SQL, [language])
        last, changes, rows, terms = cur.fetchone()
    if rows > CHANGE_LOG_COMPACT_AT:
        change_log_compact()
    return (last, changes), terms


def _signature(language: str) -> tuple[int, int]:
    return _signatures(language)[0]


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


def query_index(*, language: str, signature: tuple[int, int] | None = None) -> QueryIndex:
    """The language's BM25 index, rebuilt when its queries changed since the last build.

    A small index is rebuilt at once, in the caller's request (fresh at once; StickerQueries'
    1,100 stickers take 0.1 s). From ``REBUILD_IN_BACKGROUND_AT`` indexed stickers on, a rebuild
    takes seconds to minutes (34 s for a million English queries), so the caller gets the
    index it had while a thread rebuilds (one per language at a time): searches never stall,
    and a new query is found once the rebuild is done.
    """
    signature = signature or _signature(language)
    with _lock:
        cached = _indexes.get(language)
        if cached is not None and cached[0] == signature:
            return cached[1]
        if cached is not None and len(cached[1].keys) >= REBUILD_IN_BACKGROUND_AT:
            running = _rebuilding.get(language)
            if running is None or not running.is_alive():
                _rebuilding[language] = threading.Thread(
                    target=_rebuild_in_background, args=(language, signature),
                    name=f"search-index-{language}", daemon=True)
                _rebuilding[language].start()
            return cached[1]
        index = query_index_build(language)
        _indexes[language] = (signature, index)
        return index


def query_index_build(language: str) -> QueryIndex:
    """Reads every query of the language (streamed) and indexes them: one document per
    sticker."""
    docs: dict[int, list[str]] = defaultdict(list)
    for sticker_pk, text in (Query.objects.filter(language=language)
                             .order_by("sticker_id", "id")
                             .values_list("sticker_id", "text").iterator(chunk_size=5000)):
        docs[sticker_pk].append(text)
    return QueryIndex.build(docs, language)


def _rebuild_in_background(language: str, signature: tuple[int, int]) -> None:
    """The thread's work: build, then swap the new index in, on the thread's own database
    connection, closed at the end."""
    try:
        index = query_index_build(language)
        with _lock:
            _indexes[language] = (signature, index)
    except Exception:  # the next search starts another; the old index keeps serving
        logger.exception("rebuilding the %s search index failed", language)
    finally:
        connection.close()


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
    # Optimistic: rank with the index this process holds, then read the signatures and the
    # hits' rows in one round trip; only when the signatures moved, rebuild and rank again.
    cached = _indexes.get(language)
    ranked = _ranked(text, language, k, cached[0], _cached_terms(language)) if cached else []
    signature, terms, stickers = _signatures_and_stickers(language, [pk for pk, _, _ in ranked])
    if cached is None or (signature, terms) != (cached[0], _cached_terms(language)):
        ranked = _ranked(text, language, k, signature, terms)
        stickers = Sticker.objects.in_bulk([pk for pk, _, _ in ranked])
    return [SearchHit(stickers[pk], score, source) for pk, score, source in ranked
            if pk in stickers]


def _cached_terms(language: str) -> int | None:
    cached = _towers.get(language)
    return cached[0][1] if cached is not None else None


def _ranked(text: str, language: str, k: int, signature: tuple[int, int], terms: int
            ) -> list[tuple[int, float, str]]:
    """(sticker pk, score, source) best first: BM25, blended with the tower when it has term
    vectors."""
    index = query_index(language=language, signature=signature)
    hits = index.search(text, k=k)
    tower = _tower(language, (signature, terms))
    return ([(pk, score, "bm25") for pk, score in hits] if tower is None
            else blend(hits, tower.rank(text, language, index, k), k))


_STICKER_COLUMNS = [f.column for f in Sticker._meta.concrete_fields]
_SIGNATURES_AND_STICKERS_SQL = f"""
SELECT sig.*, {", ".join(f"s.{c}" for c in _STICKER_COLUMNS)}
FROM ({_SIGNATURE_SQL}) sig LEFT JOIN annotation_sticker s ON s.id = ANY(%s)
"""


def _signatures_and_stickers(language: str, pks: list[int]
                             ) -> tuple[tuple[int, int], int, dict[int, Sticker]]:
    """``_signatures`` and the Sticker rows of ``pks`` in one round trip."""
    with connection.cursor() as cur:
        cur.execute(_SIGNATURES_AND_STICKERS_SQL, [language, pks])
        rows = cur.fetchall()
    last, changes, count, terms = rows[0][:4]
    if count > CHANGE_LOG_COMPACT_AT:
        change_log_compact()
    names = [f.attname for f in Sticker._meta.concrete_fields]
    stickers = {row[4]: Sticker.from_db(connection.alias, names, row[4:])
                for row in rows if row[4] is not None}
    return (last, changes), terms, stickers


def _tower(language: str, signature: tuple) -> TowerState | None:
    """The language's tower state (``game.services.tower``), reloaded when its queries or the
    term vectors changed; None (BM25 only) until term vectors are computed."""
    with _lock:
        cached = _towers.get(language)
        if cached is not None and cached[0] == signature:
            return cached[1]
        state = tower_state(language=language) if signature[1] else None
        _towers[language] = (signature, state)
        return state
