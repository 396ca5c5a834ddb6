"""The campaign counts kept by triggers (migration 0008, ``annotation/sql/campaign_counts.sql``)
equal a direct count of the rows after every kind of write: answers and skips through the
services, status changes, candidate sets replaced by ``candidate_sets_write`` (COPY), answers,
tasks and a campaign deleted, bulk ``INSERT ... SELECT``, answers moved in time, concurrent
answers on two connections, TRUNCATE; and ``manage.py campaign_counts`` finds and repairs a
corrupted row."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections import Counter

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor

from annotation.models import Annotation, Campaign, Candidate, CandidateSet, Skip, Task
from annotation.services.assignment import task_next, task_skip, task_submit
from annotation.services.campaign_counts import campaign_counts_check
from annotation.services.candidate_sets import Retrieved, candidate_sets_write
from annotation.stats import campaign_stats
from encoder.embedding_services import EmbeddingMatrix
from tests.annotation.campaign_factory import annotator_create, campaign_build, candidate_ids

pytestmark = pytest.mark.django_db


def _assert_counts_equal_the_rows(campaign: Campaign) -> None:
    """The tables equal the SQL direct count, and the page's figures equal an ORM count."""
    assert campaign_counts_check() == []
    stats = campaign_stats(campaign=campaign)
    tasks = Task.objects.filter(campaign=campaign)
    answers = Annotation.objects.filter(task__campaign=campaign)
    skips = Skip.objects.filter(task__campaign=campaign)
    expected = [{"iteration": it, "tasks": tasks.filter(iteration=it).count(),
                 "done": tasks.filter(iteration=it, status="done").count(),
                 "annotations": answers.filter(task__iteration=it).count(),
                 "skips": skips.filter(task__iteration=it).count()}
                for it in sorted(set(tasks.values_list("iteration", flat=True)))]
    got = [{k: row[k] for k in ("iteration", "tasks", "done", "annotations", "skips")}
           for row in stats["iterations"]]
    assert got == expected
    per_user = Counter(answers.values_list("annotator__username", flat=True))
    skipped = Counter(skips.values_list("annotator__username", flat=True))
    assert {r["annotator"]: (r["annotations"], r["skips"]) for r in stats["annotators"]} == {
        u: (per_user[u], skipped[u]) for u in set(per_user) | set(skipped)}
    per_task = Counter(answers.values_list("task_id", flat=True))
    assert stats["agreement"]["overlapping"] == sum(1 for n in per_task.values() if n >= 2)


def _lease_and_answer(rng: random.Random, user, campaign: Campaign) -> None:
    leased = task_next(annotator=user, campaign_name=campaign.name)
    if leased is None:
        return
    if rng.random() < 0.25:
        task_skip(annotator=user, task_id=leased.id)
        return
    ids = candidate_ids(leased)
    task_submit(annotator=user, task_id=leased.id, selected_ids=rng.sample(ids, rng.randint(0, 2)),
                duration_ms=rng.choice([None, rng.randint(500, 9000)]))


def _iteration2_write(campaign: Campaign, stickers, seed: int) -> None:
    """Iteration 2's candidate sets and tasks written (or replaced) by COPY."""
    ids = np.array(sorted(s.pk for s in stickers), np.int64)
    anchors = np.array([i for i, pk in enumerate(ids)
                        if CandidateSet.objects.filter(campaign=campaign, anchor_id=pk).exists()])
    rng = np.random.default_rng(seed)
    idx = np.stack([rng.choice([j for j in range(len(ids)) if j != a], 3, replace=False)
                    for a in anchors])
    matrix = EmbeddingMatrix(ids, np.eye(len(ids), dtype=np.float32))
    candidate_sets_write(campaign=campaign, iteration=2, version="v", matrix=matrix,
                         results=[Retrieved(anchors, idx, np.ones(idx.shape), "next_page")],
                         chunk_anchors=2)


def _other_campaign(stickers, user) -> Campaign:
    """A second campaign over the same stickers, answered twice on one task: it is deleted."""
    other = Campaign.objects.create(name="other", annotators_per_task=2)
    for anchor in stickers[:2]:
        cset = CandidateSet.objects.create(campaign=other, anchor=anchor, iteration=1,
                                           retrieval_view="image")
        Candidate.objects.create(candidate_set=cset, sticker=stickers[5], rank=1)
        task = Task.objects.create(candidate_set=cset, campaign=other, anchor=anchor,
                                   iteration=1)
        Annotation.objects.create(task=task, annotator=user)
    Annotation.objects.create(task=task, annotator=annotator_create("other-2"))
    return other


def test_the_counts_equal_a_direct_count_after_a_random_mix_of_writes():
    # given a campaign of 6 anchors, 2 answers per task, iteration 2 written by COPY
    rng = random.Random(2024)
    fx = campaign_build(name="mix", anchors=6, candidates=5, per_task=2, iterations=(1,))
    campaign = fx.campaign
    users = [annotator_create(f"m{i}") for i in range(4)]
    other = _other_campaign(fx.stickers, users[0])
    _iteration2_write(campaign, fx.stickers, seed=1)
    _assert_counts_equal_the_rows(campaign)
    # when annotators answer and skip through the services, and iteration 2 is replaced
    for _ in range(10):
        _lease_and_answer(rng, rng.choice(users), campaign)
    _iteration2_write(campaign, fx.stickers, seed=2)  # iteration 2 not judged yet: replaced
    _assert_counts_equal_the_rows(campaign)
    for _ in range(30):
        _lease_and_answer(rng, rng.choice(users), campaign)
    _assert_counts_equal_the_rows(campaign)
    # and statuses change by hand, answers move in time, change hands, and one is deleted
    tasks = list(Task.objects.filter(campaign=campaign).order_by("id"))
    for task in rng.sample(tasks, 4):
        Task.objects.filter(pk=task.pk).update(
            status="open" if task.status == "done" else "done")
    answers = list(Annotation.objects.filter(task__campaign=campaign).order_by("id"))
    for answer in rng.sample(answers, 3):
        Annotation.objects.filter(pk=answer.pk).update(
            created_at=answer.created_at - dt.timedelta(days=rng.randint(1, 9)))
    Annotation.objects.filter(pk=answers[0].pk).update(annotator=annotator_create("moved"))
    answers[-1].delete()
    _assert_counts_equal_the_rows(campaign)
    # and a bulk INSERT ... SELECT answers every task of iteration 2 once more, and skips
    bulk = annotator_create("bulk")
    with connection.cursor() as cur:
        cur.execute("""INSERT INTO annotation_annotation (task_id, annotator_id, duration_ms,
                         submission_id, created_at)
                       SELECT t.id, %s, CASE WHEN t.id %% 2 = 0 THEN 700 END, '',
                              now() - t.id * interval '5 hours'
                       FROM annotation_task t WHERE t.campaign_id = %s AND t.iteration = 2""",
                    [bulk.pk, campaign.pk])
        cur.execute("""INSERT INTO annotation_skip (task_id, annotator_id, created_at)
                       SELECT t.id, %s, now() FROM annotation_task t
                       WHERE t.campaign_id = %s AND t.iteration = 1""", [bulk.pk, campaign.pk])
    _assert_counts_equal_the_rows(campaign)
    # and a task with its answers and skips is deleted, and the other campaign
    answered = Annotation.objects.filter(task__campaign=campaign).values_list("task", flat=True)
    Task.objects.filter(pk=answered.first()).delete()
    other.delete()
    # then every figure still equals the rows, and the other campaign left no count behind
    _assert_counts_equal_the_rows(campaign)
    with connection.cursor() as cur:
        cur.execute("""SELECT (SELECT count(*) FROM annotation_iteration_counts
                               WHERE campaign_id = %(c)s)
                            + (SELECT count(*) FROM annotation_answer_hours
                               WHERE campaign_id = %(c)s)
                            + (SELECT count(*) FROM annotation_annotator_counts
                               WHERE campaign_id = %(c)s)
                            + (SELECT count(*) FROM annotation_overlap
                               WHERE campaign_id = %(c)s)""", {"c": other.pk or -1})
        assert cur.fetchone()[0] == 0
    assert Annotation.objects.filter(task__campaign=campaign).count() > 20


def test_the_campaign_counts_command_finds_a_corrupted_row_and_rebuilds():
    # given a campaign with answers, one task answered twice, and a skip
    fx = campaign_build(name="cmd", anchors=2, candidates=3, per_task=2)
    users = [annotator_create(f"c{i}") for i in range(2)]
    for user in users:
        Annotation.objects.create(task=fx.tasks[0], annotator=user, duration_ms=900)
    Skip.objects.create(task=fx.tasks[1], annotator=users[0])
    call_command("campaign_counts", "--check", "cmd")
    # when rows are corrupted by hand (what no trigger would write)
    with connection.cursor() as cur:
        cur.execute("UPDATE annotation_iteration_counts SET done = done + 1 "
                    "WHERE campaign_id = %s AND iteration = 1", [fx.campaign.pk])
        cur.execute("UPDATE annotation_annotator_counts SET timed = 0 "
                    "WHERE annotator_id = %s", [users[1].pk])
        cur.execute("DELETE FROM annotation_overlap WHERE task_id = %s", [fx.tasks[0].pk])
    # then --check fails naming each figure
    with pytest.raises(CommandError, match="differ from the rows"):
        call_command("campaign_counts", "cmd")
    found = {(m.subject, m.figure) for m in campaign_counts_check(campaign=fx.campaign)}
    assert found == {("iteration 1", "done"), ("annotator c1", "timed answers"),
                     (f"task {fx.tasks[0].pk}", "overlap (answers, last answer)")}
    # and --rebuild makes them equal the rows again
    call_command("campaign_counts", "--rebuild", "cmd")
    call_command("campaign_counts", "--check")
    assert campaign_counts_check() == []
    with pytest.raises(CommandError, match="no campaign named"):
        call_command("campaign_counts", "nope")


def _waiting_on_a_lock(timeout: float = 10.0) -> bool:
    """True once another backend waits for a lock (the trigger's task row lock)."""
    deadline = time.monotonic() + timeout
    with connections["default"].cursor() as cur:
        while time.monotonic() < deadline:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND datname = current_database()")
            if cur.fetchone()[0]:
                return True
            time.sleep(0.05)
    return False


@pytest.mark.django_db(transaction=True)
def test_two_connections_adding_the_second_answer_at_once_record_the_overlap():
    # given a task without answers and two annotators on two connections
    fx = campaign_build(name="race", anchors=1, candidates=3, per_task=2, iterations=(1,))
    task = fx.tasks[0]
    users = [annotator_create(f"r{i}") for i in range(2)]
    first_inserted, first_commit = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def answer(user, hold: bool) -> None:
        try:
            with transaction.atomic():
                Annotation.objects.create(task=task, annotator=user)
                if hold:
                    first_inserted.set()
                    first_commit.wait(10)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    # when the first answer is written and not committed, the second is written meanwhile
    first = threading.Thread(target=answer, args=(users[0], True))
    first.start()
    assert first_inserted.wait(10)
    second = threading.Thread(target=answer, args=(users[1], False))
    second.start()
    waited = _waiting_on_a_lock()
    first_commit.set()
    first.join(10)
    second.join(10)
    # then the second waited for the first, saw its answer, and the overlap is recorded
    assert errors == [] and waited
    assert Annotation.objects.filter(task=task).count() == 2
    assert campaign_counts_check() == []
    assert campaign_stats(campaign=fx.campaign)["agreement"]["overlapping"] == 1
    # and a TRUNCATE (Django's flush after this test) leaves counts equal to the empty rows
    with connection.cursor() as cur:
        cur.execute("TRUNCATE annotation_annotation_selected, annotation_annotation")
    assert campaign_counts_check() == []
    assert campaign_stats(campaign=fx.campaign)["agreement"]["overlapping"] == 0


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_the_migration_counts_existing_rows_and_reverses():
    # given answers, skips and done tasks written before migration 0008
    fx = campaign_build(name="before", anchors=2, candidates=3, per_task=2)
    users = [annotator_create(f"b{i}") for i in range(2)]
    try:
        _migrate([("annotation", "0007_task_open_to_inlined")])
        with connection.cursor() as cur:
            cur.execute("SELECT to_regclass('annotation_iteration_counts')")
            assert cur.fetchone()[0] is None  # reversed: the tables are gone
        for user in users:
            Annotation.objects.create(task=fx.tasks[0], annotator=user, duration_ms=1000)
        Skip.objects.create(task=fx.tasks[3], annotator=users[1])
        Task.objects.filter(pk=fx.tasks[0].pk).update(status="done")
        # when migrated forward
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
        # then the counts equal the rows that were there
        assert campaign_counts_check() == []
        stats = campaign_stats(campaign=fx.campaign)
        assert [(r["tasks"], r["done"], r["annotations"], r["skips"])
                for r in stats["iterations"]] == [(2, 1, 2, 0), (2, 0, 0, 1)]
        assert stats["agreement"]["overlapping"] == 1
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
