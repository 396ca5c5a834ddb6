"""The pair-build pipeline on PostgreSQL with a real Celery worker, interrupted and rerun.

Run with the services up: ``eval "$(scripts/services.sh)"`` then
``.venv/bin/pytest -m integration tests/pairbuilder``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.db import transaction

from annotation.models import Campaign
from pairbuilder import services
from pairbuilder.models import Pair, PairBuild
from pairbuilder.services.builds import FAULT_FILE_ENV
from tests.pairbuilder.helpers import annotate, queries_add, stickers_make, task_make, user_make

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fault_file(tmp_path, monkeypatch) -> Path:
    """A path the worker (started after this fixture, inheriting the environment) watches."""
    path = tmp_path / "kill-pair-build"
    monkeypatch.setenv(FAULT_FILE_ENV, str(path))
    return path


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


def test_build_on_worker_killed_mid_write_then_rerun(fault_file, celery_worker_process):
    # given: a campaign and a first, uninterrupted build on the worker
    campaign = _campaign()
    with transaction.atomic():
        first = services.pair_build_start(campaign=campaign, params={})
    first = _wait(first.id, {"done", "failed"})
    assert first.status == "done" and _pairs(first)

    # when: the worker process is killed after writing its first batch of pairs
    fault_file.touch()
    with transaction.atomic():
        second = services.pair_build_start(campaign=campaign, params={})
    deadline = time.time() + 120
    while fault_file.exists() and time.time() < deadline:
        time.sleep(0.5)
    assert not fault_file.exists(), "the worker never reached the write"
    time.sleep(2)
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
