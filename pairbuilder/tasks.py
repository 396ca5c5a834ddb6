"""Celery tasks of the pair builder: thin wrappers that take ids and call one service."""

from __future__ import annotations

from celery import shared_task

from pairbuilder import services


@shared_task(acks_late=True)
def pair_build_task(*, build_id: int) -> int:
    """Run a pair build (default queue). Safe to redeliver: a done build is a no-op."""
    services.pair_build_run(build_id=build_id)
    return build_id


@shared_task(acks_late=True)
def snapshot_task(*, snapshot_id: int) -> int:
    """Write a snapshot's files and archive."""
    services.snapshot_run(snapshot_id=snapshot_id)
    return snapshot_id
