"""Embedding and retrieval jobs split into chunks (encoder.job_services), with eager Celery:
the chunks' results equal the one-process services', a rerun does only unfinished chunks, and a
chunk held by another worker is left to it. (Two real workers: test_encoder_jobs_workers.py.)"""

from __future__ import annotations

import pytest

from annotation.models import Candidate, CandidateSet
from annotation.services.campaigns import campaign_create
from annotation.services.candidate_sets import candidate_sets_build
from encoder.job_services import (
    LOCK_NAMESPACE,
    embedding_job_start,
    encoder_job_chunk_run,
    encoder_job_resume,
    encoder_job_status,
    retrieval_job_start,
)
from encoder.models import EncoderJobChunk, StickerEmbedding

pytestmark = pytest.mark.django_db


def _sets(campaign) -> dict[int, list[tuple[int, int]]]:
    return {cs.anchor_id: [(c.sticker_id, c.rank) for c in cs.candidates.order_by("rank")]
            for cs in CandidateSet.objects.filter(campaign=campaign).prefetch_related(
                "candidates")}


def test_chunked_embedding_and_retrieval_equal_the_one_process_build(
    make_stickers, tiny_version, django_capture_on_commit_callbacks, settings,
):
    # given 11 stickers, a campaign of 3 candidates and retrieval held in shards of 4 rows
    settings.RETRIEVAL_MAX_SHARD_ROWS = 4
    stickers = make_stickers(11)
    campaign = campaign_create(name="jobs", candidate_count=3,
                               encoder_version=tiny_version.version)
    # when the library is embedded as a job of 3 stickers a chunk
    with django_capture_on_commit_callbacks(execute=True):
        embed = embedding_job_start(encoder_version=tiny_version, chunk_size=3)
    # then 4 chunks, each done once, together every sticker embedded
    status = encoder_job_status(job=embed)
    assert (status["status"], status["total"], status["done"], status["rows"]) == (
        "done", 4, 4, 11)
    assert set(embed.chunks.values_list("runs", flat=True)) == {1}
    assert [(c.first_id, c.last_id) for c in embed.chunks.order_by("first_id")] == [
        (stickers[i].id, stickers[min(i + 2, 10)].id) for i in (0, 3, 6, 9)]
    assert StickerEmbedding.objects.filter(encoder_version=tiny_version).count() == 11
    # when iteration 1 is retrieved as a job of 4 anchors a chunk
    with django_capture_on_commit_callbacks(execute=True):
        retrieve = retrieval_job_start(campaign=campaign, iteration=1, chunk_size=4)
    chunked = _sets(campaign)
    # then the same candidate sets as the one-process build
    assert encoder_job_status(job=retrieve)["status"] == "done"
    assert candidate_sets_build(campaign=campaign, iteration=1) == 11
    assert chunked == _sets(campaign) and len(chunked) == 11


def test_a_rerun_does_only_the_chunks_that_are_not_done(
    make_stickers, tiny_version, django_capture_on_commit_callbacks,
):
    # given a finished retrieval job of 3 chunks
    make_stickers(9)
    campaign = campaign_create(name="rerun", candidate_count=2,
                               encoder_version=tiny_version.version)
    with django_capture_on_commit_callbacks(execute=True):
        embedding_job_start(encoder_version=tiny_version, chunk_size=5)
    with django_capture_on_commit_callbacks(execute=True):
        job = retrieval_job_start(campaign=campaign, iteration=1, chunk_size=3)
    reference = _sets(campaign)
    first, middle, last = job.chunks.order_by("first_id")
    # when its middle chunk is left as a killed worker leaves it (running, nothing written:
    # the write and the done mark are one transaction) and the job is run again
    CandidateSet.objects.filter(campaign=campaign, anchor_id__gte=middle.first_id,
                                anchor_id__lte=middle.last_id).delete()
    EncoderJobChunk.objects.filter(pk=middle.pk).update(status="running")
    sent = encoder_job_resume(job=job)
    # then only that chunk ran again, and the sets are those of the uninterrupted run
    assert sent == 1
    runs = dict(job.chunks.values_list("id", "runs"))
    assert runs == {first.id: 1, middle.id: 2, last.id: 1}
    assert _sets(campaign) == reference
    assert encoder_job_status(job=job)["status"] == "done"
    assert Candidate.objects.filter(candidate_set__campaign=campaign).count() == 18


def test_a_chunk_another_worker_holds_is_left_to_it(make_stickers, tiny_version):
    from django.db import connections

    # given an embedding job whose chunk another worker's session holds
    make_stickers(2)
    job = embedding_job_start(encoder_version=tiny_version, chunk_size=5)  # not sent: no commit
    chunk = job.chunks.get()
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, chunk.id])
        # when this worker is handed the same chunk
        outcome = encoder_job_chunk_run(chunk_id=chunk.id)
    finally:
        other.close()
    # then it leaves it alone
    assert outcome.startswith("skipped")
    chunk.refresh_from_db()
    assert chunk.runs == 0 and chunk.status == "pending"
    # and once the other session is gone the chunk runs
    assert encoder_job_chunk_run(chunk_id=chunk.id) == "done"
    assert StickerEmbedding.objects.filter(encoder_version=tiny_version).count() == 2


def test_the_command_starts_resumes_and_reads_a_job(make_stickers, tiny_version, capsys):
    import json

    from django.core.management import call_command

    from encoder.models import EncoderJob

    # given 4 stickers
    make_stickers(4)
    # when an embedding job is started from the command line (sent once committed: here the
    # test's transaction never commits, so the resume is what runs it, eagerly)
    call_command("encoder_job", "embed", "--encoder-version", tiny_version.version,
                 "--chunk-size", "2")
    job = EncoderJob.objects.get()
    call_command("encoder_job", "resume", str(job.id))
    call_command("encoder_job", "status", str(job.id))
    # then the status line says both chunks are done
    status = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (status["total"], status["done"], status["status"]) == (2, 2, "done")


def test_shards_come_from_the_setting_and_none_on_cpu(settings):
    from encoder.job_services import shard_rows

    settings.RETRIEVAL_MAX_SHARD_ROWS = 1234
    assert shard_rows(512) == 1234
    settings.RETRIEVAL_MAX_SHARD_ROWS = 0
    settings.GSE_DEVICE = "cpu"
    assert shard_rows(512) is None
