"""The text tower in search (``game.tower``, pure NumPy with hand-made vectors) and its use by
the library search on PostgreSQL: stored term vectors and stored image embeddings only."""

from __future__ import annotations

import numpy as np
import pytest

from game.models import TermVector
from game.services import search
from game.tower import TermVectors, blend, text_to_image_recall, tower_rank, unit_rows
from tests.game.factories import embeddings_add, queries_add, stickers_create

# ----------------------------------------------------------------------- the pure core


def test_blend_interleaves_by_weighted_reciprocal_rank_bm25_first_on_ties():
    bm25 = [("a", 9.0), ("b", 5.0), ("c", 1.0), ("d", 0.5)]
    tower = [("x", 0.9), ("y", 0.8)]
    # tower #1 weighs 1/2 = BM25 #2 (BM25 first on the tie), tower #2 1/4 = BM25 #4
    assert [(k, s) for k, _, s in blend(bm25, tower, k=6)] == [
        ("a", "bm25"), ("b", "bm25"), ("x", "tower"), ("c", "bm25"), ("d", "bm25"),
        ("y", "tower")]
    # a heavier tower comes first; k cuts the list; no BM25 hit: the tower alone
    assert [k for k, _, _ in blend(bm25, tower, k=3, tower_weight=2.0)] == ["x", "a", "y"]
    assert [k for k, _, _ in blend([], tower, k=5)] == ["x", "y"]
    # a key in both lists keeps its BM25 place only
    assert [k for k, _, _ in blend([("a", 1.0)], [("a", 0.9), ("z", 0.1)], k=5)] == ["a", "z"]


def test_the_query_vector_is_the_idf_weighted_mean_of_its_terms():
    terms = TermVectors(row={"cat": 0, "happy": 1}, matrix=np.eye(2, dtype=np.float32))
    v = terms.query_vector(["happy", "cat", "unknown"], idf={"cat": 1.0, "happy": 3.0})
    assert v == pytest.approx(np.array([1, 3]) / np.sqrt(10))
    assert terms.query_vector(["unknown"]) is None


def test_tower_rank_orders_by_cosine_ties_in_key_order():
    images = unit_rows(np.array([[1, 0], [0, 1], [1, 1], [1, 0]], np.float32))
    hits = tower_rank(np.array([1.0, 0.0], np.float32), ["p", "q", "r", "s"], images, k=3)
    assert [k for k, _ in hits] == ["p", "s", "r"]
    assert hits[2][1] == pytest.approx(np.sqrt(0.5))
    assert tower_rank(np.array([1.0, 0.0]), [], np.zeros((0, 2)), k=3) == []


def test_text_to_image_recall_counts_ranks_and_ties_at_their_mean():
    images = np.array([[1, 0], [0, 1], [0, 1]], np.float32)
    texts = np.array([[1, 0.1], [0, 1], [1, 0]], np.float32)
    # text 0 finds image 0 at rank 1; text 1 ties images 1 and 2 (rank 1.5); text 2 wants
    # image 2 but images 1 and 2 score 0 behind image 0: rank 2.5
    recall = text_to_image_recall(texts, images, np.array([0, 1, 2]), ks=(1, 2, 3))
    assert recall == {1: pytest.approx(1 / 3), 2: pytest.approx(2 / 3), 3: 1.0}


# ------------------------------------------------------------------- in the library search


def _term_vectors(version: str, language: str, vectors: dict[str, list[float]]) -> None:
    from encoder.models import EncoderVersion

    row = EncoderVersion.objects.get(version=version)
    TermVector.objects.bulk_create(
        TermVector(encoder_version=row, language=language, term=t, dim=len(v),
                   vector=np.asarray(v, "<f4").tobytes()) for t, v in vectors.items())


@pytest.mark.django_db
def test_search_blends_in_stickers_without_queries_from_stored_vectors_only():
    # given stickers with queries and stickers without, all embedded (2-d, hand-made)
    s = stickers_create(5)
    queries_add(s[0], "happy cat")
    queries_add(s[1], "happy dog")
    queries_add(s[2], "sad face")
    embeddings_add(s, np.array([[1, 0], [1, 0.2], [0, 1], [0.9, 0.1], [0.1, 1]]), "v1")
    # when: BM25 alone before the term vectors exist
    assert [h.source for h in search.stickers_search(text="happy", language="en")] == [
        "bm25", "bm25"]
    _term_vectors("v1", "en", {"happy": [1, 0], "cat": [1, 0], "dog": [1, 0.5],
                               "sad": [0, 1], "face": [0, 1]})
    hits = search.stickers_search(text="happy", language="en", k=4)
    # then: the two BM25 hits, the tower's nearest query-less sticker (s[3]) after BM25's
    # second, and then the other one (s[4])
    assert [(h.sticker.pk, h.source) for h in hits] == [
        (s[0].pk, "bm25"), (s[1].pk, "bm25"), (s[3].pk, "tower"), (s[4].pk, "tower")]
    # and once s[3] gets a query of its own, the tower leaves it to BM25
    queries_add(s[3], "joy")
    hits = search.stickers_search(text="sad", language="en", k=3)
    assert [(h.sticker.pk, h.source) for h in hits] == [(s[2].pk, "bm25"), (s[4].pk, "tower")]


@pytest.mark.django_db
def test_the_search_api_says_where_each_hit_comes_from(client):
    from tests.game.factories import player_create

    s = stickers_create(2)
    queries_add(s[0], "hello")
    embeddings_add(s, np.array([[1, 0], [1, 0.1]]), "v1")
    _term_vectors("v1", "en", {"hello": [1, 0]})
    client.force_login(player_create("p"))
    results = client.get("/api/stickers/search/", {"q": "hello", "language": "en"}).json()[
        "results"]
    assert [(r["sticker_id"], r["source"]) for r in results] == [
        (s[0].sticker_id, "bm25"), (s[1].sticker_id, "tower")]
