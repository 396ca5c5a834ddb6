"""Queries out as StickerQueries CSV (round trip through import_queries), and the BM25
retrieval evaluation of seed 002, Table 6."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from annotation.models import Query
from tests.game.factories import queries_add, stickers_create

pytestmark = pytest.mark.django_db


def _q_i() -> set[tuple[str, str, str, str]]:
    return set(Query.objects.values_list("sticker__sticker_id", "language", "text", "normalized"))


def test_export_then_import_into_an_empty_library_round_trips_exactly(tmp_path: Path):
    # given: imported queries (messy spacing, full-width comma, quotes, emoji) and game queries
    s = stickers_create(3)
    source = tmp_path / "in.csv"
    source.write_text('sticker_id,labeled_queries\n'
                      'g000.png,"Thumbs  up , good job，很棒, ""quoted"""\n'
                      'g001.png,👍\n', encoding="utf-8")
    call_command("import_queries", str(source), "--language", "en")
    queries_add(s[2], "from the game", "Ｏｋ")
    Query.objects.filter(sticker=s[2]).update(source="game")
    queries_add(s[0], "你好", language="zh")  # another language stays out of the en export
    before = {q for q in _q_i() if q[1] == "en"}
    out = tmp_path / "en.csv"
    # when: exported, the queries deleted, the export imported back and exported again
    call_command("export_queries", str(out), "--language", "en")
    Query.objects.all().delete()
    call_command("import_queries", str(out), "--language", "en")
    again = tmp_path / "again.csv"
    call_command("export_queries", str(again), "--language", "en")
    # then: the same Q_i, and the same file
    assert _q_i() == before
    assert again.read_bytes() == out.read_bytes()
    assert out.read_text(encoding="utf-8").splitlines()[0] == "sticker_id,labeled_queries"


def test_evaluation_splits_each_stickers_queries_and_reports_recall(tmp_path: Path, capsys):
    # given: a CSV where each sticker's queries share a distinctive word
    rows = ["sticker_id,labeled_queries"] + [
        f"s{i}.png,\"word{i} happy, word{i} sad, word{i} angry, word{i} calm\"" for i in range(20)]
    path = tmp_path / "q.csv"
    path.write_text("\n".join(rows), encoding="utf-8")
    # when
    call_command("evaluate_query_retrieval", "--language", "en", "--csv", str(path))
    # then: every held-out query finds its sticker first
    line = capsys.readouterr().out.strip()
    assert line.startswith("en: 40 held-out queries over 20 indexed stickers")
    assert "R@1=1.000" in line and "R@50=1.000" in line


def test_evaluation_over_the_library_by_source(tmp_path: Path, capsys):
    s = stickers_create(2)
    queries_add(s[0], "hello there", "hello friend")
    queries_add(s[1], "bye now", "bye friend")
    call_command("evaluate_query_retrieval", "--language", "en", "--source", "import")
    assert "2 held-out queries over 2 indexed stickers" in capsys.readouterr().out


@pytest.mark.parametrize("language", ["en", "zh"])
def test_evaluation_on_the_real_stickerqueries(shared_data: Path, language: str, capsys):
    # given the released StickerQueries CSV (Chinese cut with jieba), and the same CSV
    # imported into a library of stickers of those names
    import csv

    from annotation.models import Sticker

    path = shared_data / "stickerqueries" / f"sticker_queries_{language}_release.csv"
    with path.open(encoding="utf-8") as fh:
        names = [row["sticker_id"] for row in csv.DictReader(fh)]
    Sticker.objects.bulk_create(
        Sticker(sticker_id=n, file=f"stickers/{n}", still=f"stills/{n}", media_type="png",
                content_hash=f"{i:064x}", size_bytes=1, width=1, height=1)
        for i, n in enumerate(names))
    call_command("import_queries", str(path), "--language", language)
    capsys.readouterr()
    # when: the command reads the CSV directly, then the library
    call_command("evaluate_query_retrieval", "--language", language, "--csv", str(path))
    line = capsys.readouterr().out
    call_command("evaluate_query_retrieval", "--language", language)
    # then: both give the same figures (the CSV is read as the importer stores it)
    assert capsys.readouterr().out == line
    # and recall grows with K and is well above chance (50 of ~1,000 stickers is 0.05)
    figures = dict(part.split("=") for part in line.split() if part.startswith("R@"))
    r1, r50 = float(figures["R@1"]), float(figures["R@50"])
    assert 0 < r1 < r50 <= 1 and r50 > 0.08
