"""The demo library shipped in demo/: its files, labels and demo_library_import."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from annotation.models import Query, Sticker
from annotation.services import demo_library_import
from annotation.services.demo import demo_queries_withheld

DEMO = Path(__file__).resolve().parents[2] / "demo"


def _csv(name: str) -> list[dict]:
    with (DEMO / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_demo_files_and_labels_agree():
    # given the shipped demo library
    files = sorted(p.name for p in (DEMO / "stickers").iterdir())
    concepts = _csv("concepts.csv")

    # then every file has a concept row and English and Chinese queries, and every concept
    # is drawn in both styles
    assert sorted(r["sticker_id"] for r in concepts) == files
    for lang in ("en", "zh"):
        rows = _csv(f"queries_{lang}.csv")
        assert sorted(r["sticker_id"] for r in rows) == files
        assert all(r["labeled_queries"].strip() for r in rows)
    styles = {(r["concept"], r["style"]) for r in concepts}
    assert {s for _, s in styles} == {"noto", "twemoji"}
    assert len(styles) == 2 * len({c for c, _ in styles})
    assert sum(p.stat().st_size for p in (DEMO / "stickers").iterdir()) < 5_000_000


@pytest.mark.django_db
def test_demo_library_import(settings, tmp_path):
    # given an empty library
    settings.MEDIA_ROOT = tmp_path / "media"
    expected = Counter(Path(r["sticker_id"]).suffix for r in _csv("concepts.csv"))

    # when the demo library is imported twice
    report = demo_library_import()
    again = demo_library_import()

    # then every file is a sticker, animated formats included, with queries in both languages
    assert report.stickers.rejected == [] and report.stickers.duplicates == []
    assert len(report.stickers.imported) == sum(expected.values())
    formats = Counter(Sticker.objects.values_list("media_type", flat=True))
    assert formats == {"png": expected[".png"], "gif": expected[".gif"],
                       "webp": expected[".webp"], "webm": expected[".webm"]}
    assert Sticker.objects.filter(is_animated=True).count() == sum(
        n for ext, n in expected.items() if ext != ".png")
    # except the stickers whose queries the demo keeps back for the game (about one in six)
    withheld = {s for s in Sticker.objects.values_list("sticker_id", flat=True)
                if demo_queries_withheld(s)}
    assert 0.1 < len(withheld) / Sticker.objects.count() < 0.25
    for lang in ("en", "zh"):
        assert report.queries[lang].unknown == []
        with_queries = set(Query.objects.filter(language=lang, source="demo")
                           .values_list("sticker__sticker_id", flat=True))
        assert with_queries == set(Sticker.objects.values_list("sticker_id", flat=True)) - withheld
    # and the second run adds nothing
    assert again.stickers.imported == [] and again.queries["en"].queries_created == 0
