"""Import the demo library shipped in ``demo/`` (real emoji artwork with CLDR keywords)."""

from __future__ import annotations

import csv
import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from annotation.models import Query
from annotation.services.queries import QueryImportReport, queries_import
from annotation.services.stickers import ImportReport, stickers_import

DEMO_DIR = Path(settings.BASE_DIR) / "demo"
# One demo sticker in this many keeps its CLDR queries back (in both languages), so the demo's
# Sticktionary game has stickers without queries to collect (about 60 of the 364).
DEMO_WITHHELD_ONE_IN = 6


@dataclass
class DemoImportReport:
    """The sticker import and the two query imports of the demo library."""

    stickers: ImportReport
    queries: dict[str, QueryImportReport]  # language -> report

    def summary(self) -> str:
        lines = [f"stickers: {self.stickers.summary()}"]
        lines += [f"queries {lang}: {r.summary()}" for lang, r in self.queries.items()]
        return "\n".join(lines)


def demo_queries_withheld(sticker_id: str) -> bool:
    """Whether the demo keeps this sticker's CLDR queries back for the game to collect.

    A hash of the file name, not a random draw: the same stickers on every machine and run.
    """
    digest = hashlib.sha256(sticker_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % DEMO_WITHHELD_ONE_IN == 0


def _csv_without_withheld(src: Path, out_dir: Path) -> Path:
    """A copy of the StickerQueries CSV ``src`` (same name) without the withheld stickers."""
    out = out_dir / src.name
    with src.open(newline="", encoding="utf-8-sig") as fh, out.open("w", newline="",
                                                                     encoding="utf-8") as w:
        reader = csv.DictReader(fh)
        writer = csv.DictWriter(w, fieldnames=reader.fieldnames or [])
        writer.writeheader()
        writer.writerows(r for r in reader if not demo_queries_withheld(r["sticker_id"]))
    return out


def demo_library_import(*, root: Path | None = None) -> DemoImportReport:
    """Imports ``demo/stickers`` and ``demo/queries_{en,zh}.csv`` (source "demo"), except the
    queries of the stickers ``demo_queries_withheld`` keeps back for the game.

    Safe to run again: known stickers are reported as duplicates and no query is added twice.
    """
    root = Path(root) if root else DEMO_DIR
    stickers = stickers_import(paths=[root / "stickers"])
    with tempfile.TemporaryDirectory(prefix="demo-queries-") as tmp:
        queries = {
            lang: queries_import(
                csv_path=_csv_without_withheld(root / f"queries_{lang}.csv", Path(tmp)),
                language=lang, source=Query.Source.DEMO)
            for lang in ("en", "zh")
        }
    return DemoImportReport(stickers=stickers, queries=queries)
