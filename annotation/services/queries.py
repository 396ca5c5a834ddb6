"""Import search queries (StickerQueries CSV: ``sticker_id,labeled_queries``).

Rows are matched to stickers by file name. A row for a sticker that is not in the library is
reported (row number and id) and skipped: queries only exist for stickers we hold. Importing
the same file twice adds nothing the second time (queries are unique per sticker, language
and normalised text).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from annotation.errors import InputError
from annotation.models import Query, Sticker
from annotation.queries_text import queries_split, query_normalize
from audit.models import AuditEvent
from audit.services import audit_record

# CSV rows handled per round trip: one SELECT for their stickers and one for their existing
# queries, then one bulk INSERT. 1,000 rows of ~8 queries is ~8,000 small objects (a few MB).
QUERY_ROW_BATCH_SIZE = 1000

REQUIRED_COLUMNS = ("sticker_id", "labeled_queries")
QUERY_MAX_CHARS = Query._meta.get_field("text").max_length


class QueryImportError(InputError):
    """A query file that cannot be imported at all (missing, wrong header)."""


@dataclass
class QueryImportReport:
    """What a query import did."""

    rows: int = 0  # data rows read
    stickers_matched: int = 0  # rows whose sticker is in the library
    queries_created: int = 0
    # Same sticker, language and normalised text as a stored query or an earlier one in the file.
    queries_duplicate: int = 0
    unknown: list[str] = field(default_factory=list)  # "row N: unknown sticker id X"
    problems: list[str] = field(default_factory=list)  # "row N: query too long ..."

    def summary(self) -> str:
        return (f"{self.rows} rows: {self.stickers_matched} stickers matched, "
                f"{self.queries_created} queries created, {self.queries_duplicate} duplicate, "
                f"{len(self.unknown)} unknown sticker ids, {len(self.problems)} problems")


def queries_import(*, csv_path: Path, language: str, source: str = Query.Source.IMPORT,
                   actor: AbstractBaseUser | None = None) -> QueryImportReport:
    """Import one StickerQueries CSV for one language; see the module docstring."""
    csv_path = Path(csv_path)
    language = language.strip().lower()
    if not language:
        raise QueryImportError(csv_path.name, "a language is required (e.g. en, zh)")
    if source not in Query.Source.values:
        raise QueryImportError(csv_path.name, f"unknown query source {source!r}")
    report = QueryImportReport()
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise QueryImportError(csv_path.name, f"missing column(s) {', '.join(missing)}; "
                                       f"expected header {','.join(REQUIRED_COLUMNS)}")
            rows = ((n, r) for n, r in enumerate(reader, start=2))  # row 1 is the header
            for chunk in _chunks(rows, QUERY_ROW_BATCH_SIZE):
                _import_chunk(chunk, language, source, report)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise QueryImportError(csv_path.name, f"cannot read the CSV: {exc}") from None
    audit_record(action=AuditEvent.Action.IMPORT, actor=actor,
                 target=f"queries ({language}) from {csv_path.name}",
                 details={"path": str(csv_path), "language": language, "source": source,
                          "rows": report.rows, "created": report.queries_created,
                          "unknown": len(report.unknown), "problems": len(report.problems)})
    return report


def _chunks(rows: Iterator[tuple[int, dict]], size: int) -> Iterator[list[tuple[int, dict]]]:
    while chunk := list(islice(rows, size)):
        yield chunk


def _import_chunk(chunk: list[tuple[int, dict]], language: str, source: str,
                  report: QueryImportReport) -> None:
    ids = {(row.get("sticker_id") or "").strip() for _, row in chunk}
    sticker_pks = dict(Sticker.objects.filter(sticker_id__in=ids).values_list("sticker_id", "pk"))
    existing = set(Query.objects.filter(sticker_id__in=sticker_pks.values(), language=language)
                   .values_list("sticker_id", "normalized"))
    new: list[Query] = []
    for row_number, row in chunk:
        report.rows += 1
        sticker_id = (row.get("sticker_id") or "").strip()
        pk = sticker_pks.get(sticker_id)
        if pk is None:
            report.unknown.append(f"row {row_number}: unknown sticker id {sticker_id!r}")
            continue
        report.stickers_matched += 1
        for text in queries_split(row.get("labeled_queries") or ""):
            if len(text) > QUERY_MAX_CHARS:
                report.problems.append(f"row {row_number}: query longer than {QUERY_MAX_CHARS} "
                                       f"characters skipped ({text[:40]}...)")
                continue
            normalized = query_normalize(text)
            if (pk, normalized) in existing:
                report.queries_duplicate += 1
                continue
            existing.add((pk, normalized))  # also dedupes within the row and the file
            new.append(Query(sticker_id=pk, text=text, normalized=normalized,
                             language=language, source=source))
    with transaction.atomic():
        # ignore_conflicts: a concurrent import of the same file must not fail this one.
        Query.objects.bulk_create(new, ignore_conflicts=True)
    report.queries_created += len(new)
