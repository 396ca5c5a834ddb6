"""Celery tasks of the pair builder: thin wrappers that take ids and call one service.

A job's row is its result: the service marks it failed with the message (shown on the campaign
page) before re-raising, so the task ends there. Re-raising further would only turn a recorded,
readable failure into a 500 wherever tasks run inline (the unit tests).
"""

from __future__ import annotations

import logging

from celery import shared_task

from pairbuilder import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def pair_build_task(*, build_id: int) -> int:
    """Run a pair build (default queue). Safe to redeliver: a done build is a no-op."""
    try:
        services.pair_build_run(build_id=build_id)
    except Exception:  # recorded on the build row (status failed, error) and logged
        logger.info("pair build %s failed; the row says why", build_id)
    return build_id


@shared_task(acks_late=True)
def snapshot_task(*, snapshot_id: int) -> int:
    """Write a snapshot's files and archive. Safe to redeliver: a done snapshot is a no-op."""
    try:
        services.snapshot_run(snapshot_id=snapshot_id)
    except Exception:  # recorded on the snapshot row (status failed, error) and logged
        logger.exception("snapshot %s failed; the row says why", snapshot_id)
    return snapshot_id
