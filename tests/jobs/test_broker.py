"""The PostgreSQL broker (jobs/broker.py): jobs leave the request, survive a killed worker.

The worker tests are ``integration`` tests (a real Celery worker process) but need no Redis:
``.venv/bin/pytest -m integration tests/jobs``.
"""

from __future__ import annotations

import json
import time

import pytest
from django.db import transaction
from kombu import Connection

from annotation.models import Campaign
from jobs.broker import _connect
from jobs.models import QueueMessage
from pairbuilder import services
from pairbuilder.models import Pair, PairBuild
from tests.pairbuilder.helpers import annotate, queries_add, stickers_make, task_make, user_make


def _campaign(name: str = "jobs") -> Campaign:
    """Twelve stickers, two iterations, two annotators: a build with positives and negatives."""
    names = [f"s{i:02d}.png" for i in range(12)]
    s = stickers_make(names)
    for i, sticker in enumerate(names):
        queries_add(s[sticker], f"topic {i % 3}, mood {i}")
    campaign = Campaign.objects.create(name=name)
    u1, u2 = user_make("u1"), user_make("u2")
    for i, anchor in enumerate(names):
        others = [s[n] for n in names if n != anchor][:8]
        annotate(task_make(campaign, s[anchor], others, 1), u1, others[: 1 + i % 3])
        annotate(task_make(campaign, s[anchor], others[::-1], 2), u2, others[: 1 + (i + 1) % 3])
    return campaign


def _task_names() -> list[str]:
    return [json.loads(p)["headers"]["task"] for p in
            QueueMessage.objects.order_by("id").values_list("payload", flat=True)]


@pytest.mark.django_db(transaction=True)
def test_a_message_held_by_a_dead_session_is_delivered_again():
    with Connection("stickersim-pg://") as c1, Connection("stickersim-pg://") as c2:
        # given: a message that a first consumer took and has not acknowledged
        q1, q2 = c1.SimpleQueue("test-jobs"), c2.SimpleQueue("test-jobs")
        q1.put({"job": 1})
        assert q1.get(timeout=2).payload == {"job": 1}
        # then: nobody else gets it while that consumer lives
        with pytest.raises(q2.Empty):
            q2.get(timeout=1)
        # when: the consumer's database session ends without an ack (a killed worker)
        q1.channel._db.close()
        # then: the next consumer gets it (its second delivery), and its ack removes it
        again = q2.get(timeout=2)
        assert again.payload == {"job": 1}
        assert QueueMessage.objects.get().deliveries == 2
        again.ack()
        assert QueueMessage.objects.count() == 0
        q1.close()
        q2.close()


@pytest.mark.django_db(transaction=True)
def test_build_pairs_request_only_queues_the_job(pg_broker, client):
    # given: the demo's configuration (PostgreSQL broker, no inline tasks) and an admin
    campaign = _campaign()
    client.force_login(user_make("boss", staff=True))
    client.get(f"/api/campaigns/{campaign.name}/pair-builds/")  # URLs and views imported
    # when: the page's Build pairs request
    started = time.monotonic()
    response = client.post(f"/api/campaigns/{campaign.name}/pair-builds/", {},
                           content_type="application/json")
    elapsed = time.monotonic() - started
    # then: answered at once with a pending build whose job waits in the queue table
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending"
    assert PairBuild.objects.get().status == "pending"
    assert _task_names() == ["pairbuilder.tasks.pair_build_task"]
    assert elapsed < 1.0


def _wait(predicate, timeout: float = 120, what: str = "") -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _waiting_on_pair_table(db) -> bool:
    return db.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = "
                      "'pairbuilder_pair'::regclass").fetchone()[0] > 0


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_killed_workers_pair_build_runs_again_when_the_worker_restarts(pg_broker, pg_worker):
    # given: a campaign, and the pair table locked so the build stops inside its write
    campaign = _campaign()
    blocker, watcher = _connect(), _connect()
    blocker.autocommit = False
    try:
        blocker.execute("LOCK TABLE pairbuilder_pair IN ACCESS EXCLUSIVE MODE")
        pg_worker.start()
        with transaction.atomic():
            build = services.pair_build_start(campaign=campaign, params={})
        _wait(lambda: _waiting_on_pair_table(watcher), what="the build to reach its write")
        assert PairBuild.objects.get(pk=build.pk).status == "running"

        # when: the worker is killed mid-transaction (SIGKILL to its process group)
        pg_worker.kill()
    finally:
        blocker.rollback()
        blocker.close()
    # then: nothing half-written, and the job is still queued
    _wait(lambda: not _waiting_on_pair_table(watcher), timeout=30, what="the dead backend")
    watcher.close()
    assert Pair.objects.filter(build=build).count() == 0
    assert PairBuild.objects.get(pk=build.pk).status == "running"
    assert _task_names() == ["pairbuilder.tasks.pair_build_task"]

    # when: the worker comes back
    pg_worker.start()
    # then: it takes the job up again and finishes the build; the queue is empty
    _wait(lambda: PairBuild.objects.get(pk=build.pk).status in ("done", "failed"),
          what="the build to finish")
    build.refresh_from_db()
    assert build.status == "done", build.error
    assert Pair.objects.filter(build=build).exists()
    _wait(lambda: QueueMessage.objects.count() == 0, timeout=10, what="the ack")
