"""The library's queries out as a StickerQueries CSV, and the retrieval evaluation of seed 002,
Table 6, over the library's queries or any CSV in that format.

The export writes what ``import_queries`` reads back: one row per sticker with queries in the
language, its queries joined by ", " in the order they were stored. Stored query texts never
hold a comma (``queries_split`` cut them at import, the game cuts the labeler's input the same
way), so the re-import gives back the same Q_i.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from annotation.errors import InputError
from annotation.models import Query
from annotation.queries_text import queries_split, query_normalize
from game.bm25 import QueryIndex, RecallReport, recall_at_k, split_queries

HEADER = ("sticker_id", "labeled_queries")


def library_queries(*, language: str, source: str = "") -> dict[str, list[str]]:
    """Sticker id -> its query texts in ``language`` (optionally one source), in stored order."""
    rows = Query.objects.filter(language=language)
    if source:
        if source not in Query.Source.values:
            raise InputError("source", f"one of {', '.join(Query.Source.values)}")
        rows = rows.filter(source=source)
    docs: dict[str, list[str]] = defaultdict(list)
    for sticker_id, text in (rows.order_by("sticker__sticker_id", "id")
                             .values_list("sticker__sticker_id", "text").iterator(chunk_size=5000)):
        docs[sticker_id].append(text)
    return dict(docs)


def queries_export(*, language: str, out_path: Path, source: str = "") -> int:
    """Writes the library's queries in ``language`` as a StickerQueries CSV; returns the rows."""
    if not language.strip():
        raise InputError("language", "a language is required (e.g. en, zh)")
    docs = library_queries(language=language.strip().lower(), source=source)
    out_path = Path(out_path)
    with out_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for sticker_id, texts in docs.items():
            writer.writerow([sticker_id, ", ".join(texts)])
    return len(docs)


def csv_queries(csv_path: Path) -> dict[str, list[str]]:
    """Sticker id -> query texts of a StickerQueries CSV, split and de-duplicated as
    ``import_queries`` stores them (so a CSV scores as the library it would become)."""
    csv_path = Path(csv_path)
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if any(c not in (reader.fieldnames or []) for c in HEADER):
                raise InputError(csv_path.name, f"expected header {','.join(HEADER)}")
            docs: dict[str, dict[str, str]] = defaultdict(dict)
            for row in reader:
                texts = docs[(row["sticker_id"] or "").strip()]
                for text in queries_split(row["labeled_queries"] or ""):
                    texts.setdefault(query_normalize(text), text)  # as the importer dedupes
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(csv_path.name, f"cannot read the CSV: {exc}") from None
    return {k: list(v.values()) for k, v in docs.items() if k and v}


def query_retrieval_evaluate(*, language: str, csv_path: Path | None = None, source: str = "",
                             held_out_csv: Path | None = None, seed: int = 0) -> RecallReport:
    """BM25 Recall@1/5/10/50 of held-out human queries (seed 002, Table 6).

    The index is the library's queries in ``language`` (optionally one ``source``) or a CSV's.
    With ``held_out_csv`` its queries are retrieved against the whole index (e.g. generated
    captions as the index, human queries held out); without, each sticker's own queries are
    split in two, seeded: half indexed, half held out.
    """
    docs = csv_queries(csv_path) if csv_path else library_queries(language=language,
                                                                  source=source)
    if not docs:
        raise InputError("index", f"no {language} queries to index")
    if held_out_csv is not None:
        held = [(k, t) for k, texts in csv_queries(held_out_csv).items() for t in texts]
        index = QueryIndex.build(docs, language)
    else:
        indexed, held = split_queries(docs, seed=seed)
        index = QueryIndex.build(indexed, language)
    return recall_at_k(index, held)
