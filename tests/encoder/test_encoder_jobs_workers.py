"""Two real Celery workers on the ``gpu`` queue share one embedding job and one retrieval job
split into chunks; a worker SIGKILLed mid-job and the job run again give the same embeddings
and candidate sets as the uninterrupted run, and no finished chunk is computed twice (from the
chunk records). Redis, PostgreSQL, the tiny OpenCLIP model on CPU: seconds, not minutes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from annotation.models import CandidateSet
from annotation.services.campaigns import campaign_create
from annotation.services.candidate_sets import candidate_sets_clear
from encoder.job_services import (
    embedding_job_start,
    encoder_job_resume,
    encoder_job_status,
    retrieval_job_start,
)
from encoder.models import EncoderJob, EncoderJobChunk, StickerEmbedding

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def start_worker(django_db_setup, django_db_blocker, redis_broker):
    """``start_worker(name)``: a Celery worker process on the ``gpu`` queue only (solo pool, so
    the chunks run in the process the test kills), on Redis and the test database."""
    from django.conf import settings

    from config.celery import app
    from tests.conftest import _database_url_for_test_db

    with django_db_blocker.unblock():
        env = dict(os.environ, DATABASE_URL=_database_url_for_test_db(),
                   DJANGO_SETTINGS_MODULE="config.settings_test", OMP_NUM_THREADS="1",
                   RETRIEVAL_MAX_SHARD_ROWS="7",  # the library in shards of 7 rows
                   GSE_EMBED_BATCH_SIZE="1")  # a chunk writes sticker by sticker
    procs: list[subprocess.Popen] = []

    def start(name: str) -> subprocess.Popen:
        log = open(Path(settings.VAR_DIR) / f"worker-{name}-{time.time_ns()}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "gpu",
             "--pool=solo", "-n", f"{name}@%h", "--loglevel=INFO", "--without-gossip",
             "--without-mingle", "--without-heartbeat"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        deadline = time.time() + 90
        while not any(name in key for reply in app.control.ping(timeout=1.0) for key in reply):
            assert proc.poll() is None, f"worker {name} exited; see {log.name}"
            assert time.time() < deadline, f"worker {name} did not answer; see {log.name}"
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait(job: EncoderJob, timeout: float = 240) -> dict:
    deadline = time.time() + timeout
    while (status := encoder_job_status(job=job))["status"] != "done":
        assert status["status"] != "failed", status
        assert time.time() < deadline, status
        time.sleep(0.2)
    return status


def _embeddings(version) -> dict[int, bytes]:
    return dict(StickerEmbedding.objects.filter(encoder_version=version)
                .values_list("sticker_id", "vector"))


def _sets(campaign) -> dict[int, list[tuple[int, int]]]:
    return {cs.anchor_id: [(c.sticker_id, c.rank) for c in cs.candidates.order_by("rank")]
            for cs in CandidateSet.objects.filter(campaign=campaign).prefetch_related(
                "candidates")}


def _pids(job: EncoderJob) -> set[int]:
    return {int(w.rsplit(":", 1)[1]) for w in encoder_job_status(job=job)["workers"]}


def test_two_workers_share_a_job_and_a_killed_one_costs_only_its_chunk(
    make_stickers, tiny_version, start_worker,
):
    from encoder.embedding_services import embeddings_load
    from encoder.retrieval import topk_cosine

    # given 30 stickers, a campaign of 4 candidates and two gpu workers
    make_stickers(30)
    campaign = campaign_create(name="workers", candidate_count=4,
                               encoder_version=tiny_version.version)
    a, b = start_worker("a"), start_worker("b")
    # when the library is embedded (10 chunks) and iteration 1 retrieved (6 chunks)
    embed = embedding_job_start(encoder_version=tiny_version, chunk_size=3)
    assert _wait(embed)["done"] == 10
    retrieve = retrieval_job_start(campaign=campaign, iteration=1, chunk_size=5)
    assert _wait(retrieve)["done"] == 6
    # then both workers did chunks of each job, each chunk once
    assert _pids(embed) == _pids(retrieve) == {a.pid, b.pid}
    for job in (embed, retrieve):
        assert set(job.chunks.values_list("runs", flat=True)) == {1}
    reference_embeddings, reference_sets = _embeddings(tiny_version), _sets(campaign)
    assert len(reference_embeddings) == 30 and len(reference_sets) == 30
    # and the sharded, chunked retrieval is the exact one-process retrieval
    matrix = embeddings_load(encoder_version=tiny_version.version)
    idx, _ = topk_cosine(matrix.vectors, 4, duplicate_group=matrix.duplicate_groups())
    ids = matrix.sticker_ids
    assert reference_sets == {int(ids[r]): [(int(ids[j]), rank + 1) for rank, j in
                                            enumerate(idx[r])] for r in range(len(ids))}

    # given the same work again from nothing
    StickerEmbedding.objects.filter(encoder_version=tiny_version).delete()
    candidate_sets_clear(campaign=campaign, iteration=1)
    # when worker a is SIGKILLed while running a chunk, after it finished one
    embed = embedding_job_start(encoder_version=tiny_version, chunk_size=3)
    deadline = time.time() + 120
    while True:
        mine = embed.chunks.filter(worker__endswith=f":{a.pid}")
        if (mine.filter(status="done").exists() and mine.filter(status="running").exists()
                and embed.chunks.filter(status="pending").exists()):
            os.kill(a.pid, signal.SIGKILL)
            break
        assert time.time() < deadline, "worker a never ran a second chunk mid-job"
        time.sleep(0.002)
    a.wait(timeout=30)
    done_at_kill = dict(embed.chunks.filter(status="done").values_list("id", "finished_at"))
    killed = set(embed.chunks.filter(status="running", worker__endswith=f":{a.pid}")
                 .values_list("id", flat=True))
    # then worker b finishes every other chunk, and the killed one stays unfinished
    deadline = time.time() + 120
    while embed.chunks.exclude(status="done").exclude(id__in=killed).exists():
        assert time.time() < deadline
        time.sleep(0.2)
    assert killed and embed.chunks.filter(id__in=killed, status="done").count() == 0
    # when worker a restarts and the job is run again
    a2 = start_worker("a2")
    assert encoder_job_resume(job=embed) == len(killed)
    _wait(embed)
    # then only the killed chunk was computed again: finished chunks ran once, unchanged
    runs = dict(embed.chunks.values_list("id", "runs"))
    assert {cid: runs[cid] for cid in done_at_kill} == dict.fromkeys(done_at_kill, 1)
    assert {cid: runs[cid] for cid in killed} == dict.fromkeys(killed, 2)
    assert dict(embed.chunks.filter(id__in=list(done_at_kill))
                .values_list("id", "finished_at")) == done_at_kill
    assert EncoderJobChunk.objects.filter(job=embed, id__in=killed).get().worker.endswith(
        (f":{a2.pid}", f":{b.pid}"))
    # and the embeddings are those of the uninterrupted run
    again = _embeddings(tiny_version)
    assert again.keys() == reference_embeddings.keys()
    for sid, vector in again.items():
        np.testing.assert_allclose(np.frombuffer(bytes(vector), "<f4"),
                                   np.frombuffer(bytes(reference_embeddings[sid]), "<f4"),
                                   atol=1e-6)
    # and so are the candidate sets retrieved from them by the two live workers
    retrieve = retrieval_job_start(campaign=campaign, iteration=1, chunk_size=5)
    _wait(retrieve)
    assert _sets(campaign) == reference_sets
