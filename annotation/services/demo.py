"""Import the demo library shipped in ``demo/`` (real emoji artwork with CLDR keywords)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from annotation.models import Query
from annotation.services.queries import QueryImportReport, queries_import
from annotation.services.stickers import ImportReport, stickers_import

DEMO_DIR = Path(settings.BASE_DIR) / "demo"


@dataclass
class DemoImportReport:
    """The sticker import and the two query imports of the demo library."""

    stickers: ImportReport
    queries: dict[str, QueryImportReport]  # language -> report

    def summary(self) -> str:
        lines = [f"stickers: {self.stickers.summary()}"]
        lines += [f"queries {lang}: {r.summary()}" for lang, r in self.queries.items()]
        return "\n".join(lines)


def demo_library_import(*, root: Path | None = None) -> DemoImportReport:
    """Imports ``demo/stickers`` and ``demo/queries_{en,zh}.csv`` (source "demo").

    Safe to run again: known stickers are reported as duplicates and no query is added twice.
    """
    root = Path(root) if root else DEMO_DIR
    stickers = stickers_import(paths=[root / "stickers"])
    queries = {
        lang: queries_import(csv_path=root / f"queries_{lang}.csv", language=lang,
                             source=Query.Source.DEMO)
        for lang in ("en", "zh")
    }
    return DemoImportReport(stickers=stickers, queries=queries)
