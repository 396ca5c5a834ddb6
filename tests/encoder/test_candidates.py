"""Candidate sets and tasks (annotation.services.candidate_sets), inline and via Celery."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from django.core.management import call_command

from annotation.errors import InputError
from annotation.models import (
    Annotation,
    Campaign,
    Candidate,
    CandidateSet,
    Query,
    Sticker,
    Task,
)
from annotation.services.campaigns import campaign_create
from annotation.services.candidate_sets import candidate_sets_build
from encoder.embedding_services import embeddings_load, stickers_embed
from encoder.models import EncoderVersion
from encoder.retrieval import topk_cosine

pytestmark = pytest.mark.django_db


def embedded_campaign(make_stickers, version, n=30, source="next_page", **kwargs) -> Campaign:
    stickers = make_stickers(n, **kwargs)
    stickers_embed(encoder_version=version, batch_size=16)
    campaign = campaign_create(name="c1", candidate_count=5, encoder_version=version.version,
                               iteration2_source=source)
    campaign.stickers = stickers  # type: ignore[attr-defined]
    return campaign


def test_iteration_1_builds_one_set_and_one_task_per_anchor(make_stickers, tiny_version):
    # given 30 embedded stickers and a campaign of 5 candidates
    campaign = embedded_campaign(make_stickers, tiny_version)
    # when
    built = candidate_sets_build(campaign=campaign, iteration=1)
    # then every sticker is an anchor with 5 ranked candidates, never itself, and one open task
    assert built == 30
    sets = CandidateSet.objects.filter(campaign=campaign, iteration=1)
    assert sets.count() == 30
    assert Task.objects.filter(campaign=campaign, iteration=1, status="open").count() == 30
    for cs in sets.prefetch_related("candidates"):
        ranks = [c.rank for c in cs.candidates.all()]
        assert ranks == [1, 2, 3, 4, 5]
        assert cs.anchor_id not in {c.sticker_id for c in cs.candidates.all()}
        assert cs.retrieval_view == CandidateSet.RetrievalView.IMAGE
        assert cs.encoder_version == tiny_version.version
        assert cs.task.anchor_id == cs.anchor_id
    # and the stored order is the exact retrieval
    matrix = embeddings_load(encoder_version=tiny_version.version)
    idx, scores = topk_cosine(matrix.vectors, 5, duplicate_group=matrix.duplicate_groups())
    first = sets.get(anchor_id=matrix.sticker_ids[0])
    stored = list(first.candidates.values_list("sticker_id", "score"))
    assert [s for s, _ in stored] == matrix.sticker_ids[idx[0]].tolist()
    np.testing.assert_allclose([s for _, s in stored], scores[0], rtol=1e-6)


def test_identical_stills_are_never_each_others_candidates(make_stickers, tiny_version):
    # given stickers 0, 3 and 7 with the same still (different files)
    campaign = embedded_campaign(make_stickers, tiny_version, n=12, same_still=(3, 7))
    ids = [s.id for s in campaign.stickers]
    dupes = {ids[0], ids[3], ids[7]}
    # when
    candidate_sets_build(campaign=campaign, iteration=1)
    # then
    for anchor in dupes:
        chosen = set(Candidate.objects.filter(candidate_set__anchor_id=anchor)
                     .values_list("sticker_id", flat=True))
        assert not chosen & dupes


def test_iteration_2_next_page_is_ranks_6_to_10(make_stickers, tiny_version):
    # given iteration 1 built
    campaign = embedded_campaign(make_stickers, tiny_version)
    candidate_sets_build(campaign=campaign, iteration=1)
    # when
    candidate_sets_build(campaign=campaign, iteration=2)
    # then iteration 2 holds the next 5 candidates, disjoint from iteration 1
    matrix = embeddings_load(encoder_version=tiny_version.version)
    idx, _ = topk_cosine(matrix.vectors, 10, duplicate_group=matrix.duplicate_groups())
    for row, anchor in enumerate(matrix.sticker_ids.tolist()):
        it2 = CandidateSet.objects.get(campaign=campaign, anchor_id=anchor, iteration=2)
        assert it2.retrieval_view == CandidateSet.RetrievalView.NEXT_PAGE
        got = list(it2.candidates.values_list("sticker_id", flat=True))
        assert got == matrix.sticker_ids[idx[row, 5:]].tolist()
    assert Task.objects.filter(campaign=campaign).count() == 60


def test_iteration_2_text_query_uses_queries_or_falls_back_per_anchor(make_stickers,
                                                                        tiny_version):
    # given queries for the first 10 stickers only
    campaign = embedded_campaign(make_stickers, tiny_version, source="text_query")
    for s in campaign.stickers[:10]:
        Query.objects.create(sticker=s, text=f"happy {s.id}", normalized=f"happy {s.id}",
                             language="en")
    # when
    built = candidate_sets_build(campaign=campaign, iteration=2)
    # then anchors with queries get the text view, the others the next page, all recorded
    assert built == 30
    views = dict(CandidateSet.objects.filter(campaign=campaign, iteration=2)
                 .values_list("anchor_id", "retrieval_view"))
    with_queries = {s.id for s in campaign.stickers[:10]}
    assert {a for a, v in views.items() if v == "text_query"} == with_queries
    assert {a for a, v in views.items() if v == "next_page"} == set(views) - with_queries


def test_iteration_2_retrained_uses_the_other_encoder(make_stickers, tiny_version,
                                                      tiny_openclip, tmp_path):
    # given a GSE version with its own checkpoint, embedded after iteration 1
    import open_clip

    campaign = embedded_campaign(make_stickers, tiny_version, source="retrained")
    torch.manual_seed(11)
    checkpoint = tmp_path / "gse.pt"
    torch.save(open_clip.create_model(tiny_openclip["name"]).state_dict(), checkpoint)
    gse = EncoderVersion.objects.create(
        version="gse-test-1", kind=EncoderVersion.Kind.GSE, model_name=tiny_openclip["name"],
        model_config=tiny_version.model_config, checkpoint=str(checkpoint),
    )
    assert stickers_embed(encoder_version=gse) == 30
    campaign.iteration2_encoder_version = gse.version
    campaign.save()
    # when
    candidate_sets_build(campaign=campaign, iteration=2)
    # then the sets carry the GSE's version and the image view
    sets = CandidateSet.objects.filter(campaign=campaign, iteration=2)
    assert set(sets.values_list("encoder_version", flat=True)) == {"gse-test-1"}
    assert set(sets.values_list("retrieval_view", flat=True)) == {"image"}


def test_retrained_without_a_version_is_a_clear_error(make_stickers, tiny_version):
    campaign = embedded_campaign(make_stickers, tiny_version, n=5, source="retrained")
    with pytest.raises(InputError, match="iteration2_encoder_version is empty"):
        candidate_sets_build(campaign=campaign, iteration=2)


def test_rebuild_replaces_until_someone_annotates(make_stickers, tiny_version,
                                                  django_user_model):
    # given iteration 1 built twice
    campaign = embedded_campaign(make_stickers, tiny_version, n=8)
    candidate_sets_build(campaign=campaign, iteration=1)
    first_ids = set(CandidateSet.objects.values_list("id", flat=True))
    candidate_sets_build(campaign=campaign, iteration=1)
    # then the second build replaced the first (no duplicates)
    assert CandidateSet.objects.count() == 8 and Task.objects.count() == 8
    assert not first_ids & set(CandidateSet.objects.values_list("id", flat=True))
    # given an annotation on one task
    user = django_user_model.objects.create_user("a1", password="x")
    Annotation.objects.create(task=Task.objects.first(), annotator=user)
    # when / then a rebuild is refused and nothing is lost
    with pytest.raises(InputError, match="already has annotations"):
        candidate_sets_build(campaign=campaign, iteration=1)
    assert Task.objects.count() == 8 and Annotation.objects.count() == 1


def test_without_embeddings_is_a_clear_error(make_stickers, tiny_version):
    make_stickers(3)
    campaign = campaign_create(name="c0", encoder_version=tiny_version.version)
    with pytest.raises(InputError, match="no sticker embeddings"):
        candidate_sets_build(campaign=campaign, iteration=1)


def test_campaign_create_validates_its_fields():
    campaign_create(name="x")
    with pytest.raises(InputError, match="already exists"):
        campaign_create(name="x")
    with pytest.raises(InputError, match="iteration2_source"):
        campaign_create(name="y", iteration2_source="magic")
    with pytest.raises(InputError, match="candidate_count"):
        campaign_create(name="z", candidate_count=0)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_import_embed_and_build_through_a_celery_worker(tmp_path, tiny_version,
                                                        celery_worker_process):
    # given a folder of real sticker files in every format (animated ones too) and a bad file,
    # imported with the command into PostgreSQL (into the MEDIA_ROOT the worker shares)
    from django.db import connection

    from encoder.tasks import build_candidates_task, embed_stickers_task
    from tests.annotation import factories
    from tests.encoder.conftest import png_bytes

    assert connection.vendor == "postgresql"
    folder = tmp_path / "library"
    folder.mkdir()
    for i in range(8):
        (folder / f"face{i}.png").write_bytes(png_bytes(100 + i))
    (folder / "wave.gif").write_bytes(factories.image_bytes("GIF", frames=3))
    (folder / "jump.webp").write_bytes(factories.image_bytes("WEBP", frames=4, size=(44, 30)))
    (folder / "hop.webm").write_bytes(factories.webm_bytes(frames=5))
    (folder / "photo.jpg").write_bytes(factories.image_bytes("JPEG", size=(50, 30)))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    err = io.StringIO()
    call_command("import_stickers", str(folder), stdout=io.StringIO(), stderr=err)
    assert "broken.png: corrupt" in err.getvalue()
    assert Sticker.objects.count() == 12
    assert set(Sticker.objects.filter(is_animated=True).values_list("media_type", flat=True)) \
        == {"gif", "webp", "webm"}
    campaign = campaign_create(name="celery-import", candidate_count=4,
                               encoder_version=tiny_version.version)
    # when a real worker embeds the stills and builds both iterations
    embedded = embed_stickers_task.delay(encoder_version_id=tiny_version.id).get(timeout=180)
    built = build_candidates_task.delay(campaign_id=campaign.id, iteration=1).get(timeout=120)
    again = build_candidates_task.delay(campaign_id=campaign.id, iteration=2).get(timeout=120)
    # then every imported sticker is embedded and is an anchor with 4 candidates, never
    # itself, in both iterations, in the order of an exact retrieval
    assert (embedded, built, again) == (12, 12, 12)
    sets = CandidateSet.objects.filter(campaign=campaign).prefetch_related("candidates")
    for cs in sets:
        chosen = [c.sticker_id for c in sorted(cs.candidates.all(), key=lambda c: c.rank)]
        assert len(chosen) == 4 and cs.anchor_id not in chosen
    matrix = embeddings_load(encoder_version=tiny_version.version)
    idx, _ = topk_cosine(matrix.vectors, 8, duplicate_group=matrix.duplicate_groups())
    for row, anchor in enumerate(matrix.sticker_ids.tolist()):
        for iteration, ranks in ((1, slice(0, 4)), (2, slice(4, 8))):
            got = (CandidateSet.objects.get(campaign=campaign, anchor_id=anchor,
                                            iteration=iteration)
                   .candidates.order_by("rank").values_list("sticker_id", flat=True))
            assert list(got) == matrix.sticker_ids[idx[row, ranks]].tolist()
    assert Task.objects.filter(campaign=campaign).count() == 24
