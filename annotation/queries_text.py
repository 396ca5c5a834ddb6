"""Query text rules shared by the importer and the pair builder (pure, no Django).

Queries are compared after normalisation (SPEC "The data"): the pair builder's |Q_i ∩ Q_j|
must count exactly what the importer stored, so both call these two functions.
"""

from __future__ import annotations

import re
import unicodedata

# StickerQueries separates queries with ", "; Chinese rows sometimes use the full-width "，".
_SEPARATORS = re.compile(r"[,，]")
_WHITESPACE = re.compile(r"\s+")


def query_normalize(text: str) -> str:
    """The comparable form of one query: NFKC, trimmed, inner spaces collapsed, case-folded.

    NFKC folds full-width letters and digits ("Ｏｋ") into their ASCII twins, so a query typed
    on a Chinese keyboard matches the same query typed on an English one.
    """
    text = unicodedata.normalize("NFKC", text)
    return _WHITESPACE.sub(" ", text).strip().casefold()


def queries_split(field: str) -> list[str]:
    """The queries of one ``labeled_queries`` field, trimmed, empty parts dropped, in order.

    The originals are returned (not normalised) so they can be stored as typed; callers dedupe
    on :func:`query_normalize`.
    """
    parts = (_WHITESPACE.sub(" ", p).strip() for p in _SEPARATORS.split(field or ""))
    return [p for p in parts if p]


def queries_normalized_set(field: str) -> set[str]:
    """The set Q_i of one ``labeled_queries`` field: split, normalised, deduplicated."""
    return {n for n in (query_normalize(q) for q in queries_split(field)) if n}
