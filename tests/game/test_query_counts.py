"""The triggers that keep ``StickerQueryCount`` and the search's change log in step with
``annotation.Query``: every way queries are written (bulk insert, import, update, delete,
a sticker's deletion, a new sticker) leaves the counts equal to a direct count, and each
change moves the search signature."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Count

from annotation.models import Query, Sticker
from game.models import QueryChange, StickerQueryCount
from game.services import search
from tests.game.factories import queries_add, stickers_create

pytestmark = pytest.mark.django_db


def _counts() -> dict[tuple[int, str], int]:
    return {(c.sticker_id, c.language): c.queries for c in StickerQueryCount.objects.all()}


def _direct() -> dict[tuple[int, str], int]:
    """Every sticker in en and zh (0 without queries), and any other language it has."""
    out = {(pk, lang): 0 for pk in Sticker.objects.values_list("pk", flat=True)
           for lang in ("en", "zh")}
    for row in Query.objects.values("sticker_id", "language").annotate(n=Count("id")):
        out[(row["sticker_id"], row["language"])] = row["n"]
    return out


def test_counts_follow_every_write_of_queries():
    # given new stickers: they start at 0 in both game languages
    a, b, c = stickers_create(3)
    assert _counts() == _direct() and set(_counts().values()) == {0}
    # when queries are added, in bulk and one by one, in several languages
    queries_add(a, "hi", "hello", "hey")
    queries_add(b, "你好", language="zh")
    queries_add(c, "salut", language="fr")
    Query.objects.create(sticker=b, text="yo", normalized="yo", language="en")
    assert _counts() == _direct()
    assert _counts()[(a.pk, "en")] == 3 and _counts()[(c.pk, "fr")] == 1
    # when one moves language, some are deleted, and a sticker goes with its queries
    Query.objects.filter(sticker=b, language="en").update(language="zh")
    Query.objects.filter(sticker=a, normalized__in=["hi", "hey"]).delete()
    c.delete()
    # then
    assert _counts() == _direct()
    assert (_counts()[(a.pk, "en")], _counts()[(b.pk, "zh")], _counts()[(b.pk, "en")]) == (1, 2, 0)


def test_a_truncate_sets_every_count_to_zero_and_moves_every_signature():
    [a] = stickers_create(1)
    queries_add(a, "hi")
    before = search._signature("zh")
    with connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's transaction: FK checks now
        cur.execute("TRUNCATE annotation_query CASCADE")
    assert set(_counts().values()) == {0}
    assert search._signature("zh") != before


def test_each_change_moves_the_signature_of_its_language_only():
    [a] = stickers_create(1)
    en, zh = search._signature("en"), search._signature("zh")
    queries_add(a, "hi")
    assert search._signature("en") != en and search._signature("zh") == zh
    en = search._signature("en")
    Query.objects.filter(sticker=a).update(text="Hi")
    assert search._signature("en") != en
    en = search._signature("en")
    Query.objects.filter(sticker=a).delete()
    assert search._signature("en") != en and search._signature("zh") == zh


def test_compaction_keeps_every_signature_and_leaves_one_row_per_language(settings):
    stickers = stickers_create(4)
    for i, s in enumerate(stickers):
        queries_add(s, f"word{i}")
        queries_add(s, f"词{i}", language="zh")
    before = {lang: search._signature(lang) for lang in ("en", "zh")}
    assert QueryChange.objects.count() == 8
    search.change_log_compact()
    assert {lang: search._signature(lang) for lang in ("en", "zh")} == before
    assert sorted(QueryChange.objects.values_list("language", flat=True)) == ["en", "zh"]
    # and a change after it still moves the signature
    queries_add(stickers[0], "more")
    assert search._signature("en") != before["en"]


def test_a_search_compacts_a_long_log_and_still_finds_new_queries(monkeypatch):
    monkeypatch.setattr(search, "CHANGE_LOG_COMPACT_AT", 3)
    stickers = stickers_create(5)
    for i, s in enumerate(stickers):
        queries_add(s, f"word{i}")
    assert [h.sticker.pk for h in search.stickers_search(text="word3", language="en")] == [
        stickers[3].pk]
    assert QueryChange.objects.count() <= 2
    queries_add(stickers[1], "fresh")
    assert [h.sticker.pk for h in search.stickers_search(text="fresh", language="en")] == [
        stickers[1].pk]


@pytest.mark.django_db(transaction=True)  # the rebuild thread reads committed rows only
def test_a_big_index_is_rebuilt_by_a_thread_while_the_old_one_serves(monkeypatch):
    # given an index past the size that a request would rebuild itself
    monkeypatch.setattr(search, "REBUILD_IN_BACKGROUND_AT", 2)
    monkeypatch.setattr(search, "_indexes", {})
    s = stickers_create(3)
    queries_add(s[0], "alpha")
    queries_add(s[1], "beta")
    assert [h.sticker for h in search.stickers_search(text="alpha", language="en")] == [s[0]]
    # when a query arrives
    queries_add(s[2], "gamma")
    # then the next search answers at once from the old index, and a thread rebuilds it
    assert search.stickers_search(text="gamma", language="en") == []
    search._rebuilding["en"].join(timeout=60)
    assert [h.sticker for h in search.stickers_search(text="gamma", language="en")] == [s[2]]
    assert not search._rebuilding["en"].is_alive()
