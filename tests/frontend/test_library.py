"""The library browser: search and filters, and what the sticker page knows about a sticker."""

from __future__ import annotations

import numpy as np
import pytest
from django.test import Client

from annotation.models import Query
from encoder.models import EncoderVersion, StickerEmbedding
from frontend.selectors.library import (
    LibraryFilter,
    library_search,
    sticker_candidate_sets,
    sticker_neighbours,
    sticker_pairs,
)
from tests.frontend.dashboard_factory import dashboard_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def fx():
    fx = dashboard_build()
    s = fx.campaign.stickers
    Query.objects.create(sticker=s[0], text="Thumbs up", normalized="thumbs up", language="en")
    Query.objects.create(sticker=s[0], text="好的", normalized="好的", language="zh")
    Query.objects.create(sticker=s[1], text="thumbs up!", normalized="thumbs up!", language="en",
                         source=Query.Source.GAME)
    return fx


def _ids(filters: LibraryFilter) -> list[str]:
    return [s.sticker_id for s in library_search(filters=filters)]


def test_search_by_name_query_text_language_type_and_having_queries(fx):
    s = fx.campaign.stickers
    # by query text, normalised (case-folded), each sticker once
    assert _ids(LibraryFilter(text="THUMBS")) == [s[0].sticker_id, s[1].sticker_id]
    # by a part of the file name
    assert _ids(LibraryFilter(text="s02")) == [x.sticker_id for x in s if "s02" in x.sticker_id]
    # by the language of a query
    assert _ids(LibraryFilter(language="zh")) == [s[0].sticker_id]
    # with and without queries: the two sets split the library
    with_q, without = _ids(LibraryFilter(has_queries="yes")), _ids(LibraryFilter(has_queries="no"))
    assert with_q == [s[0].sticker_id, s[1].sticker_id]
    assert len(with_q) + len(without) == len(s)
    # by media type: nothing is a gif in this library
    assert _ids(LibraryFilter(media_type="gif")) == []
    assert library_search(filters=LibraryFilter(text="thumbs"))[0].query_count == 2


def test_the_sticker_knows_its_candidate_sets_and_its_pairs_with_evidence(fx):
    s = fx.campaign.stickers
    # given: s000 anchors two candidate sets (iterations 1 and 2); s006 is a candidate of all
    rows = sticker_candidate_sets(sticker=s[0])["rows"]
    assert [(r["role"], r["iteration"]) for r in rows] == [("anchor", 1), ("anchor", 2)]
    assert [r["retrieval"] for r in rows] == ["image embeddings", "candidates ranked 21-40"]
    found = sticker_candidate_sets(sticker=s[6], limit=5)
    assert found["total"] == 12 and len(found["rows"]) == 5
    rows = sticker_candidate_sets(sticker=s[6])["rows"]
    assert len(rows) == 12 and rows[0]["role"] == "candidate #1"
    # and "judged similar by" counts the answers that selected it, as SQL does
    from annotation.models import Annotation

    assert sum(r["selected_by"] for r in rows) == Annotation.objects.filter(
        selected=s[6]).count() > 0
    # then: its pairs carry the evidence and the review decision
    found = sticker_pairs(sticker=s[0])
    assert (found["total"], found["positives"]) == (3, 2)
    assert [p["label"] for p in found["rows"]] == ["positive", "positive", "negative"]
    pairs = {p["other"]["sticker_id"]: p for p in found["rows"]}
    assert set(pairs) == {s[1].sticker_id, s[2].sticker_id, s[5].sticker_id}
    accepted = pairs[s[1].sticker_id]
    assert (accepted["label"], accepted["co_selected"], accepted["co_displayed"],
            accepted["query_overlap"], accepted["text_cosine"], accepted["review"]) == (
        "positive", 3, 4, 1, 0.81, "accepted")
    assert pairs[s[5].sticker_id]["label"] == "negative"
    assert pairs[s[5].sticker_id]["review"] == "not reviewed"


def test_nearest_neighbours_per_encoder_version_from_stored_embeddings(fx, monkeypatch):
    # given: two encoder versions; under "v-a" s001 is nearest to s000, under "v-b" s003 is
    s = fx.campaign.stickers
    rng = np.random.default_rng(0)
    for version, near in (("v-a", 1), ("v-b", 3)):
        row = EncoderVersion.objects.create(version=version, kind="base", model_name="test")
        base = rng.normal(size=16).astype("<f4")
        for i, sticker in enumerate(s):
            vec = base if i == 0 else (base + 0.1 * rng.normal(size=16) if i == near
                                       else rng.normal(size=16))
            StickerEmbedding.objects.create(sticker=sticker, encoder_version=row, dim=16,
                                            vector=np.asarray(vec, "<f4").tobytes())
    monkeypatch.setattr("frontend.selectors.library.NEIGHBOUR_PAGE", 7)  # several pages
    # when
    out = {v["version"]: v["neighbours"] for v in sticker_neighbours(sticker=s[0], k=3)}
    # then: each version finds its own nearest, never the sticker itself, best first
    assert out["v-a"][0]["sticker"]["sticker_id"] == s[1].sticker_id
    assert out["v-b"][0]["sticker"]["sticker_id"] == s[3].sticker_id
    for rows in out.values():
        assert len(rows) == 3 and s[0].sticker_id not in [r["sticker"]["sticker_id"] for r in rows]
        cosines = [r["cosine"] for r in rows]
        assert cosines == sorted(cosines, reverse=True)


def test_pages_are_for_staff_and_paginate(fx):
    web = Client()
    web.force_login(fx.annotators[1])  # an annotator, not staff
    assert web.get("/library/").status_code == 302
    fx.annotators[1].is_staff = True
    fx.annotators[1].save()
    page = web.get("/library/?has_queries=no&page=1")
    assert page.status_code == 200
    assert len(page.context["stickers"]) == min(48, len(fx.campaign.stickers) - 2)
    detail = web.get(f"/library/stickers/{fx.campaign.stickers[0].pk}/")
    assert detail.status_code == 200 and b"co-selected" in detail.content.lower()


def test_the_library_paginates_and_keeps_the_filters_in_the_page_links(fx, monkeypatch):
    # given: 26 stickers, 10 to a page
    monkeypatch.setattr("frontend.views.library.PAGE_SIZE", 10)
    fx.annotators[1].is_staff = True
    fx.annotators[1].save()
    web = Client()
    web.force_login(fx.annotators[1])
    # when: the third page of a media-type filtered list
    first = web.get("/library/?media_type=png")
    last = web.get("/library/?media_type=png&page=3")
    # then: 10, 10 and the remaining 6; the links carry the filter
    assert first.context["page"].paginator.num_pages == 3
    assert len(last.context["stickers"]) == len(fx.campaign.stickers) - 20
    assert b'href="?media_type=png&amp;page=2"' in first.content
    names = {s["sticker_id"] for s in first.context["stickers"]}
    assert names.isdisjoint(s["sticker_id"] for s in last.context["stickers"])
