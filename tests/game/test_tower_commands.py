"""The two commands that run the text tower (torch, CPU, the tiny OpenCLIP of the suite):
``embed_search_terms`` stores a vector per search term, after which the web search blends in
stickers without queries; ``evaluate_query_retrieval --encoder`` reports the text tower's
text-to-sticker Recall@K beside BM25's on the same held-out queries."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import call_command

from game.models import TermVector
from game.services import search
from game.services.tower import encoder_version_active
from tests.game.factories import queries_add, stickers_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def embedded(settings, tmp_path, tiny_openclip):
    """Six stickers, four with queries, embedded with the tiny model (a base version)."""
    from encoder.embedding_services import stickers_embed_with_spec
    from encoder.spec import EncoderSpec

    settings.MEDIA_ROOT = tmp_path / "media"
    stickers = stickers_create(6)
    for i, s in enumerate(stickers[:4]):
        queries_add(s, f"word{i}", f"other{i}", f"third{i}", "shared")
    version, count = stickers_embed_with_spec(spec=EncoderSpec(
        model=tiny_openclip["config_path"], pretrained=tiny_openclip["checkpoint"],
        device="cpu"))
    assert count == 6
    return stickers, version


def test_embed_search_terms_lets_the_search_find_stickers_without_queries(embedded):
    stickers, version = embedded
    # when
    out = io.StringIO()
    call_command("embed_search_terms", "--language", "en", stdout=out)
    # then one unit vector per term of the vocabulary, under the active (only) version
    assert encoder_version_active() == version
    terms = set(search.query_index(language="en").retriever.vocab_dict)
    rows = list(TermVector.objects.filter(language="en", encoder_version=version))
    assert {r.term for r in rows} == terms - {""} and f"{len(rows)} terms" in out.getvalue()
    assert all(abs(np.linalg.norm(np.frombuffer(bytes(r.vector), "<f4")) - 1) < 1e-4
               for r in rows)
    # and the search: BM25's hit first, then the two stickers without queries, from the tower
    hits = search.stickers_search(text="word1", language="en", k=5)
    assert (hits[0].sticker, hits[0].source) == (stickers[1], "bm25")
    assert {h.sticker.pk for h in hits if h.source == "tower"} == {stickers[4].pk, stickers[5].pk}


def test_evaluate_with_the_encoder_reports_the_text_towers_recall(embedded):
    out = io.StringIO()
    call_command("evaluate_query_retrieval", "--language", "en", "--encoder", stdout=out)
    bm25_line, tower_line = out.getvalue().strip().splitlines()
    _, version = embedded
    # the same held-out queries (two per sticker), four stickers: every target is in the top 50
    assert "8 held-out queries" in bm25_line
    assert f"encoder {version.version}: 8 queries over 4 stickers" in tower_line
    assert "R@50=1.000" in tower_line and "mean recall (R@1,5,10)=" in tower_line
    r1 = float(tower_line.split("R@1=")[1].split()[0])
    assert 0.0 <= r1 <= 1.0
