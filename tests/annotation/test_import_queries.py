"""queries_import, the query text rules, and ``manage.py import_queries``, on the real
StickerQueries release files and on small hand-made ones."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from annotation.models import Query, Sticker
from annotation.queries_text import queries_normalized_set, queries_split, query_normalize
from annotation.services import QueryImportError, queries_import
from tests.annotation import factories

EN = "stickerqueries/sticker_queries_en_release.csv"
ZH = "stickerqueries/sticker_queries_zh_release.csv"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["sticker_id", "labeled_queries"])
        writer.writerows(rows)
    return path


def _rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


# --- pure text rules ----------------------------------------------------------------------------


def test_split_on_ascii_and_full_width_commas():
    # given a field with ", ", a bare ",", a full-width "，" and empty parts
    field = " Thumbs up, good job,nice，你说得对 , ,  "

    # when / then
    assert queries_split(field) == ["Thumbs up", "good job", "nice", "你说得对"]


def test_normalize_trims_case_folds_and_folds_width():
    assert query_normalize("  Thumbs   UP ") == "thumbs up"
    assert query_normalize("Ｏｋ") == "ok"  # full-width letters typed on a Chinese keyboard
    assert query_normalize("Straße") == query_normalize("STRASSE")
    assert queries_normalized_set("Good, good , GOOD，nice") == {"good", "nice"}


# --- service on small files ---------------------------------------------------------------------


@pytest.mark.django_db
def test_import_normalises_dedupes_and_reports_unknown_ids(tmp_path):
    # given two stickers and a CSV with duplicates, a full-width comma and an unknown id
    factories.stickers_placeholder(["1.png", "2.webm"])
    path = _csv(tmp_path / "q.csv", [
        ("1.png", "Thumbs up, thumbs UP, good job"),
        ("missing.gif", "hello"),
        ("2.webm", "你说得对，赞, nice"),
    ])

    # when it is imported twice
    first = queries_import(csv_path=path, language="en")
    second = queries_import(csv_path=path, language="en")

    # then the queries are stored once, normalised, as typed, and the unknown id is reported
    assert (first.rows, first.stickers_matched, first.queries_created) == (3, 2, 5)
    assert first.unknown == ["row 3: unknown sticker id 'missing.gif'"]
    assert second.queries_created == 0 and second.queries_duplicate == 5 + 1
    stored = set(Query.objects.values_list("sticker__sticker_id", "text", "normalized"))
    assert stored == {
        ("1.png", "Thumbs up", "thumbs up"), ("1.png", "good job", "good job"),
        ("2.webm", "你说得对", "你说得对"), ("2.webm", "赞", "赞"), ("2.webm", "nice", "nice"),
    }
    assert set(Query.objects.values_list("language", "source")) == {("en", "import")}


@pytest.mark.django_db
def test_same_query_in_two_languages_is_two_rows(tmp_path):
    # given a sticker and the same query in en and zh files
    factories.stickers_placeholder(["1.png"])
    path = _csv(tmp_path / "q.csv", [("1.png", "ok")])

    # when imported as both languages
    queries_import(csv_path=path, language="en")
    queries_import(csv_path=path, language="zh", source="demo")

    # then each language has its row
    assert sorted(Query.objects.values_list("language", "source")) == [
        ("en", "import"), ("zh", "demo")]


@pytest.mark.django_db
def test_wrong_header_is_an_input_error(tmp_path):
    # given a CSV without the labeled_queries column
    path = tmp_path / "bad.csv"
    path.write_text("id,queries\n1.png,hi\n")

    # when / then the service and the command name the file and the missing column
    with pytest.raises(QueryImportError, match="bad.csv: missing column"):
        queries_import(csv_path=path, language="en")
    with pytest.raises(CommandError, match="labeled_queries"):
        call_command("import_queries", str(path), "--language", "en")


# --- the real StickerQueries release ------------------------------------------------------------


@pytest.mark.django_db
def test_real_stickerqueries_files_import_exactly(shared_data, capsys):
    # given placeholder stickers for every id of the English release (images are not public)
    en_rows, zh_rows = _rows(shared_data / EN), _rows(shared_data / ZH)
    factories.stickers_placeholder([r["sticker_id"] for r in en_rows])

    # when both files are imported through the command
    call_command("import_queries", str(shared_data / EN), "--language", "en")
    call_command("import_queries", str(shared_data / ZH), "--language", "zh")

    # then all 1,115 English stickers have queries, and no id was unknown
    out = capsys.readouterr()
    assert "1115 rows: 1115 stickers matched" in out.out
    assert "615 rows: 615 stickers matched" in out.out
    assert "unknown" not in out.err
    en = Query.objects.filter(language="en")
    assert en.values("sticker").distinct().count() == 1115
    # and the stored queries are exactly the CSV's after normalisation, sticker by sticker
    for lang, rows in (("en", en_rows), ("zh", zh_rows)):
        expected = {(r["sticker_id"], q) for r in rows
                    for q in queries_normalized_set(r["labeled_queries"])}
        stored = set(Query.objects.filter(language=lang)
                     .values_list("sticker__sticker_id", "normalized"))
        assert stored == expected
        assert Query.objects.filter(language=lang).count() == len(expected)
    # and every Chinese sticker's queries landed on its English twin
    zh_stickers = set(Query.objects.filter(language="zh").values_list("sticker", flat=True))
    en_stickers = set(en.values_list("sticker", flat=True))
    assert len(zh_stickers) == 615 and zh_stickers <= en_stickers
    assert Sticker.objects.count() == 1115


@pytest.mark.django_db
def test_command_fails_when_no_row_matches_a_sticker(tmp_path, capsys):
    # given an empty library and a CSV
    path = _csv(tmp_path / "q.csv", [("1.png", "hi"), ("2.png", "yo")])

    # when / then the command lists the unknown rows and exits with an error
    with pytest.raises(CommandError, match="no row matched a sticker"):
        call_command("import_queries", str(path), "--language", "en")
    assert "row 3: unknown sticker id '2.png'" in capsys.readouterr().err
