"""Candidate sets written with COPY a chunk of anchors at a time: the same rows as the
retrieval, exactly one set per anchor after an interrupted write is written again."""

from __future__ import annotations

import numpy as np
import pytest

from annotation.models import Candidate, CandidateSet, Task
from annotation.services import candidate_sets
from annotation.services.campaigns import campaign_create
from annotation.services.candidate_sets import Retrieved, candidate_sets_write
from encoder.embedding_services import EmbeddingMatrix
from encoder.retrieval import topk_cosine

pytestmark = pytest.mark.django_db


def _matrix(stickers, dim: int = 8, seed: int = 0) -> EmbeddingMatrix:
    vectors = np.random.default_rng(seed).normal(size=(len(stickers), dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return EmbeddingMatrix(np.array(sorted(s.id for s in stickers), np.int64), vectors)


def _stored(campaign) -> dict[int, list[tuple[int, int, float]]]:
    out: dict[int, list] = {}
    for set_id, anchor in CandidateSet.objects.filter(campaign=campaign).values_list(
            "id", "anchor_id"):
        out[anchor] = list(Candidate.objects.filter(candidate_set_id=set_id).order_by("rank")
                           .values_list("sticker_id", "rank", "score"))
    return out


def test_copy_writes_the_retrieval_in_chunks(make_stickers):
    # given 23 stickers, unit vectors and their exact top-4 (one row padded: only 3 exist when
    # the page asked for ranks 21-24 would be empty, here a short last page)
    stickers = make_stickers(23)
    campaign = campaign_create(name="copy", candidate_count=4, encoder_version="v-copy")
    matrix = _matrix(stickers)
    idx, scores = topk_cosine(matrix.vectors, 4)
    idx[5, 2:] = -1  # an anchor with only 2 candidates
    idx[6, :] = -1  # and one with none: no set, no task
    result = Retrieved(np.arange(23), idx, scores, CandidateSet.RetrievalView.IMAGE)
    # when written 5 anchors per transaction
    written = candidate_sets_write(campaign=campaign, iteration=1, version="v-copy",
                                   matrix=matrix, results=[result], chunk_anchors=5)
    # then one set and one open task per anchor with a candidate, candidates ranked as retrieved
    ids = matrix.sticker_ids
    assert written == 22
    stored = _stored(campaign)
    assert set(stored) == set(ids.tolist()) - {int(ids[6])}
    for row, anchor in enumerate(ids.tolist()):
        if row == 6:
            continue
        want = [(int(ids[j]), rank, float(s)) for rank, (j, s) in
                enumerate(zip(idx[row], scores[row], strict=True), start=1) if j >= 0]
        got = stored[anchor]
        assert [g[:2] for g in got] == [w[:2] for w in want]
        np.testing.assert_allclose([g[2] for g in got], [w[2] for w in want], rtol=1e-6)
    tasks = Task.objects.filter(campaign=campaign)
    assert tasks.count() == 22 and set(tasks.values_list("status", flat=True)) == {"open"}
    assert all(t.anchor_id == t.candidate_set.anchor_id and t.iteration == 1
               for t in tasks.select_related("candidate_set"))
    cs = CandidateSet.objects.filter(campaign=campaign).first()
    assert cs.encoder_version == "v-copy" and cs.retrieval_view == "image"
    assert cs.created_at is not None and cs.task.created_at is not None


def test_a_write_interrupted_midway_and_written_again_has_one_set_per_anchor(
    make_stickers, monkeypatch,
):
    # given an uninterrupted write as the reference
    stickers = make_stickers(20)
    campaign = campaign_create(name="restart", candidate_count=3, encoder_version="v-r")
    matrix = _matrix(stickers, seed=1)
    idx, scores = topk_cosine(matrix.vectors, 3)
    result = Retrieved(np.arange(20), idx, scores, CandidateSet.RetrievalView.IMAGE)
    write = {"campaign": campaign, "iteration": 1, "version": "v-r", "matrix": matrix,
             "results": [result], "chunk_anchors": 6}
    candidate_sets_write(**write)
    reference = _stored(campaign)
    candidate_sets.candidate_sets_clear(campaign=campaign, iteration=1)
    # when a write dies in its third chunk (a killed worker)
    real, calls = candidate_sets._write_chunk, []

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(candidate_sets, "_write_chunk", dying)
    with pytest.raises(KeyboardInterrupt):
        candidate_sets_write(**write)
    # then the first two chunks are whole and the third left nothing
    assert CandidateSet.objects.filter(campaign=campaign).count() == 12
    assert Task.objects.filter(campaign=campaign).count() == 12
    # when it is written again
    monkeypatch.setattr(candidate_sets, "_write_chunk", real)
    candidate_sets_write(**write)
    # then exactly the uninterrupted result: one set, its candidates and one task per anchor
    stored = _stored(campaign)
    assert {a: [c[:2] for c in v] for a, v in stored.items()} == {
        a: [c[:2] for c in v] for a, v in reference.items()}
    assert Task.objects.filter(campaign=campaign).count() == 20
    assert Candidate.objects.filter(candidate_set__campaign=campaign).count() == 60


def test_writing_over_a_judged_anchor_is_refused_and_keeps_its_set(make_stickers,
                                                                   django_user_model):
    # given a written iteration and one answer on the task of anchor row 7
    from annotation.models import Annotation

    stickers = make_stickers(12)
    campaign = campaign_create(name="judged", candidate_count=3, encoder_version="v-j")
    matrix = _matrix(stickers, seed=2)
    idx, scores = topk_cosine(matrix.vectors, 3)
    result = Retrieved(np.arange(12), idx, scores, CandidateSet.RetrievalView.IMAGE)
    write = {"campaign": campaign, "iteration": 1, "version": "v-j", "matrix": matrix,
             "results": [result], "chunk_anchors": 5}
    candidate_sets_write(**write)
    judged = Task.objects.get(campaign=campaign, anchor_id=int(matrix.sticker_ids[7]))
    Annotation.objects.create(task=judged, annotator=django_user_model.objects.create(
        username="u"))
    before = _stored(campaign)
    # when written again / then the chunk holding it is refused and its set is kept
    with pytest.raises(candidate_sets.InputError, match="already have annotations"):
        candidate_sets_write(**write)
    assert _stored(campaign) == before
    assert Task.objects.filter(pk=judged.pk).exists()
