"""The pair-build pipeline on PostgreSQL with a real Celery worker, interrupted and rerun.

Run with the services up: ``eval "$(scripts/services.sh)"`` then
``.venv/bin/pytest -m integration tests/pairbuilder``.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from django.db import transaction

from annotation.models import Campaign
from jobs.broker import _connect
from pairbuilder import services
from pairbuilder.models import Pair, PairBuild
from tests.pairbuilder.helpers import annotate, queries_add, stickers_make, task_make, user_make

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _kill_pool_processes(pid: int) -> None:
    """SIGKILL the worker's pool processes (the one running the build among them), as in a
    crash; the worker's main process starts new ones, which the resumed build runs on."""
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        os.kill(int(child), signal.SIGKILL)


def _waiting_on_pair_table(db) -> bool:
    return db.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = "
                      "'pairbuilder_pair'::regclass").fetchone()[0] > 0


def _campaign() -> Campaign:
    names = [f"s{i:02d}.png" for i in range(12)]
    s = stickers_make(names)
    for i, name in enumerate(names):
        queries_add(s[name], f"topic {i % 3}, mood {i}, 话题{i % 4}")
    campaign = Campaign.objects.create(name="integration")
    u1, u2 = user_make("u1"), user_make("u2")
    for i, anchor in enumerate(names):
        others = [s[n] for n in names if n != anchor][:8]
        t1 = task_make(campaign, s[anchor], others, 1)
        t2 = task_make(campaign, s[anchor], others[::-1], 2)
        annotate(t1, u1, others[: 1 + i % 3])
        annotate(t2, u2, others[: 1 + (i + 1) % 3])
    return campaign


def _wait(build_id: int, statuses: set[str], timeout: float = 120) -> PairBuild:
    deadline = time.time() + timeout
    while time.time() < deadline:
        build = PairBuild.objects.get(pk=build_id)
        if build.status in statuses:
            return build
        time.sleep(0.5)
    raise AssertionError(f"build {build_id} still {build.status} after {timeout} s")


def _pairs(build: PairBuild) -> list[tuple]:
    return list(Pair.objects.filter(build=build).order_by("sticker_a_id", "sticker_b_id")
                .values_list("sticker_a_id", "sticker_b_id", "label", "co_selected",
                             "co_displayed", "query_overlap", "text_cosine"))


def test_build_on_worker_killed_mid_write_then_rerun(celery_worker_process):
    # given: a campaign and a first, uninterrupted build on the worker
    campaign = _campaign()
    with transaction.atomic():
        first = services.pair_build_start(campaign=campaign, params={})
    first = _wait(first.id, {"done", "failed"})
    assert first.status == "done" and _pairs(first)

    # when: the worker is killed while the second build waits inside its write transaction
    # (the test holds the pair table, so the build cannot finish before the kill)
    blocker, watcher = _connect(), _connect()
    blocker.autocommit = False
    try:
        blocker.execute("LOCK TABLE pairbuilder_pair IN ACCESS EXCLUSIVE MODE")
        with transaction.atomic():
            second = services.pair_build_start(campaign=campaign, params={})
        deadline = time.time() + 120
        while not _waiting_on_pair_table(watcher) and time.time() < deadline:
            time.sleep(0.3)
        assert _waiting_on_pair_table(watcher), "the worker never reached the write"
        _kill_pool_processes(celery_worker_process.pid)
    finally:
        blocker.rollback()
        blocker.close()
    deadline = time.time() + 30
    while _waiting_on_pair_table(watcher) and time.time() < deadline:
        time.sleep(0.3)
    watcher.close()
    # then: nothing half-written is visible
    second.refresh_from_db()
    assert second.status == "running"
    assert Pair.objects.filter(build=second).count() == 0

    # when: it is run again
    with transaction.atomic():
        services.pair_build_resume(build=second)
    second = _wait(second.id, {"done", "failed"})
    # then: complete, and the same pairs as the uninterrupted build
    assert second.status == "done"
    assert _pairs(second) == _pairs(first)
    assert second.counts == first.counts
