"""Task assignment, answers and skips: the one copy of the rules (``annotation/sql/``), called
through the services, then the same under real concurrency (threads, one connection each): the
Label Studio lock bugs of SPEC.md as test cases."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.db import connections
from django.utils import timezone

from annotation.errors import InputError
from annotation.models import Annotation, Lease, Skip, Task
from annotation.selectors import annotator_progress
from annotation.services.assignment import LeasedTask, task_next, task_skip, task_submit
from tests.annotation.campaign_factory import annotator_create, campaign_build, candidate_ids

pytestmark = pytest.mark.django_db


def _expire(task: LeasedTask) -> None:
    """Lets the task's lease run out for real (campaigns built with lease_seconds=1), so
    everything that holds the expiry (the lease row, the task's pick hint) ages as it would."""
    time.sleep(max(0.0, (task.lease_expires_at - timezone.now()).total_seconds()) + 0.05)


def test_next_leases_a_task_and_returns_it_again_on_refresh():
    # given
    fx = campaign_build(anchors=2)
    ann = annotator_create("ann")
    # when
    first = task_next(annotator=ann, campaign_name=fx.campaign.name)
    again = task_next(annotator=ann, campaign_name=fx.campaign.name)
    # then: a refresh never takes a second task
    assert first is not None and again.id == first.id
    assert Lease.objects.filter(annotator=ann).count() == 1


def test_fetch_ahead_takes_a_second_task_and_no_more():
    fx = campaign_build(anchors=3)
    ann = annotator_create("ann")
    first = task_next(annotator=ann, campaign_name=fx.campaign.name)
    ahead = task_next(annotator=ann, campaign_name=fx.campaign.name, exclude_task_ids=[first.id])
    assert ahead is not None and ahead.id != first.id
    assert ahead.anchor_id != first.anchor_id  # the other iteration is not for the same person
    third = task_next(annotator=ann, campaign_name=fx.campaign.name,
                      exclude_task_ids=[first.id, ahead.id])
    assert third is None  # two leases at most: no hoarding


def test_two_annotators_never_share_a_task_and_iterations_split():
    # given: one anchor, two iterations, one annotator per task
    fx = campaign_build(anchors=1)
    a, b, c = (annotator_create(n) for n in "abc")
    # when
    ta = task_next(annotator=a, campaign_name=fx.campaign.name)
    tb = task_next(annotator=b, campaign_name=fx.campaign.name)
    # then
    assert {ta.iteration, tb.iteration} == {1, 2}
    assert task_next(annotator=c, campaign_name=fx.campaign.name) is None
    # and the one who did iteration 1 never gets iteration 2, even after it is free again
    task_submit(annotator=a, task_id=ta.id, selected_ids=[], submission_id="x")
    task_skip(annotator=b, task_id=tb.id)
    assert task_next(annotator=a, campaign_name=fx.campaign.name) is None
    assert task_next(annotator=c, campaign_name=fx.campaign.name).id == tb.id


def test_tasks_go_out_iteration_by_iteration():
    # given: tasks created anchor by anchor (a0 it1, a0 it2, a1 it1, ...), as an import makes
    fx = campaign_build(anchors=3)
    a, b, c, d = (annotator_create(n) for n in "abcd")
    # when
    picks = [task_next(annotator=u, campaign_name=fx.campaign.name) for u in (a, b, c, d)]
    # then: every anchor's iteration 1 goes out before any iteration 2, in creation order
    assert [(p.iteration, p.anchor_id) for p in picks] == [
        (1, fx.stickers[0].pk), (1, fx.stickers[1].pk), (1, fx.stickers[2].pk),
        (2, fx.stickers[0].pk)]


def test_abandoned_task_goes_out_before_free_ones():
    # given: a0 it1 answered, a1 it1 leased then skipped (free again), a0 it2 leased by c
    fx = campaign_build(anchors=2, lease_seconds=1)
    a, b, c, d = (annotator_create(n) for n in "abcd")
    first = task_next(annotator=a, campaign_name=fx.campaign.name)
    task_submit(annotator=a, task_id=first.id, selected_ids=[])
    skipped = task_next(annotator=b, campaign_name=fx.campaign.name)
    abandoned = task_next(annotator=c, campaign_name=fx.campaign.name)
    task_skip(annotator=b, task_id=skipped.id)
    assert (skipped.iteration, abandoned.iteration) == (1, 2)
    # when c's lease runs out
    _expire(abandoned)
    # then the abandoned task, waiting longest, goes out before the free iteration-1 task
    assert task_next(annotator=d, campaign_name=fx.campaign.name).id == abandoned.id


def test_expired_lease_returns_the_task_to_the_pool():
    fx = campaign_build(anchors=1, iterations=(1,), lease_seconds=1)
    a, b = annotator_create("a"), annotator_create("b")
    task = task_next(annotator=a, campaign_name=fx.campaign.name)
    assert task_next(annotator=b, campaign_name=fx.campaign.name) is None
    # when the lease runs out
    _expire(task)
    # then the task goes to someone else, and the stale lease row is cleared
    assert task_next(annotator=b, campaign_name=fx.campaign.name).id == task.id
    assert list(Lease.objects.values_list("annotator__username", flat=True)) == ["b"]
    # and a's late answer is refused with a clear message, and stores nothing
    with pytest.raises(InputError, match="you do not hold this task"):
        task_submit(annotator=a, task_id=task.id, selected_ids=[], submission_id="late")
    assert not Annotation.objects.exists()


def test_overlap_slot_freed_by_an_expired_lease_is_offered_again():
    # given: two annotators per task, both slots leased (the task is full), a's lease first
    fx = campaign_build(anchors=1, iterations=(1,), per_task=2, lease_seconds=1)
    a, b, c = (annotator_create(n) for n in "abc")
    task = task_next(annotator=a, campaign_name=fx.campaign.name)
    time.sleep(0.5)
    assert task_next(annotator=b, campaign_name=fx.campaign.name).id == task.id
    assert task_next(annotator=c, campaign_name=fx.campaign.name) is None
    # when a's lease runs out while b's is still live
    _expire(task)
    # then the free slot goes to c, and the task is full again
    assert task_next(annotator=c, campaign_name=fx.campaign.name).id == task.id
    task_submit(annotator=b, task_id=task.id, selected_ids=[])
    task_submit(annotator=c, task_id=task.id, selected_ids=[])
    assert Task.objects.get(pk=task.id).status == Task.Status.DONE
    assert task_next(annotator=a, campaign_name=fx.campaign.name) is None


def test_late_answer_is_kept_when_nobody_took_the_task():
    fx = campaign_build(anchors=1, iterations=(1,), lease_seconds=1)
    a = annotator_create("a")
    task = task_next(annotator=a, campaign_name=fx.campaign.name)
    _expire(task)
    result = task_submit(annotator=a, task_id=task.id, selected_ids=[], submission_id="ok")
    assert result.created and Task.objects.get(pk=task.id).status == Task.Status.DONE


def test_submit_is_idempotent_and_stores_the_selection():
    fx = campaign_build(anchors=1, iterations=(1,))
    ann = annotator_create("ann")
    task = task_next(annotator=ann, campaign_name=fx.campaign.name)
    chosen = candidate_ids(task)[:3]
    first = task_submit(annotator=ann, task_id=task.id, selected_ids=chosen, submission_id="k1",
                        duration_ms=1234)
    retry = task_submit(annotator=ann, task_id=task.id, selected_ids=chosen, submission_id="k1")
    other_key = task_submit(annotator=ann, task_id=task.id, selected_ids=[], submission_id="k2")
    assert first.created and not retry.created and not other_key.created
    assert retry.annotation.id == first.annotation.id == other_key.annotation.id
    assert Annotation.objects.count() == 1
    stored = Annotation.objects.get()
    assert sorted(stored.selected.values_list("sticker_id", flat=True)) == sorted(chosen)
    assert stored.duration_ms == 1234
    assert not Lease.objects.exists()
    assert Task.objects.get(pk=task.id).status == Task.Status.DONE


def test_submission_id_of_another_task_is_refused():
    fx = campaign_build(anchors=2, iterations=(1,))
    ann = annotator_create("ann")
    t1 = task_next(annotator=ann, campaign_name=fx.campaign.name)
    task_submit(annotator=ann, task_id=t1.id, selected_ids=[], submission_id="same")
    t2 = task_next(annotator=ann, campaign_name=fx.campaign.name)
    with pytest.raises(InputError, match="already used for task"):
        task_submit(annotator=ann, task_id=t2.id, selected_ids=[], submission_id="same")


def test_selection_outside_the_candidates_is_refused():
    fx = campaign_build(anchors=2, iterations=(1,), candidates=3)
    ann = annotator_create("ann")
    task = task_next(annotator=ann, campaign_name=fx.campaign.name)
    with pytest.raises(InputError, match="not candidates of task"):
        task_submit(annotator=ann, task_id=task.id, selected_ids=[task.anchor["sticker_id"]])
    assert not Annotation.objects.exists()
    assert Lease.objects.filter(task_id=task.id, annotator=ann).exists()  # the lease is kept


def test_overlap_needs_as_many_annotators_as_asked():
    fx = campaign_build(anchors=1, iterations=(1,), per_task=2)
    a, b, c = (annotator_create(n) for n in "abc")
    ta, tb = (task_next(annotator=u, campaign_name=fx.campaign.name) for u in (a, b))
    assert ta.id == tb.id
    assert task_next(annotator=c, campaign_name=fx.campaign.name) is None
    task_submit(annotator=a, task_id=ta.id, selected_ids=[])
    assert Task.objects.get(pk=ta.id).status == Task.Status.OPEN
    task_submit(annotator=b, task_id=tb.id, selected_ids=[])
    assert Task.objects.get(pk=ta.id).status == Task.Status.DONE


def test_skip_frees_the_task_for_others_only():
    # given: PR #3575 in Label Studio: skipped tasks broke overlap
    fx = campaign_build(anchors=1, iterations=(1,), per_task=2)
    a, b, c = (annotator_create(n) for n in "abc")
    task = task_next(annotator=a, campaign_name=fx.campaign.name)
    task_next(annotator=b, campaign_name=fx.campaign.name)
    # when
    task_skip(annotator=a, task_id=task.id)
    task_skip(annotator=a, task_id=task.id)  # a double click stores one skip
    # then
    assert Skip.objects.count() == 1
    assert task_next(annotator=a, campaign_name=fx.campaign.name) is None
    assert task_next(annotator=c, campaign_name=fx.campaign.name).id == task.id
    # and b, who still holds a slot, answers; a skip after the answer is refused
    assert task_submit(annotator=b, task_id=task.id, selected_ids=[]).created
    with pytest.raises(InputError, match="already answered"):
        task_skip(annotator=b, task_id=task.id)
    assert Skip.objects.count() == 1


def test_progress_counts_come_from_the_rows():
    fx = campaign_build(anchors=2)
    ann = annotator_create("ann")
    task = task_next(annotator=ann, campaign_name=fx.campaign.name)
    task_submit(annotator=ann, task_id=task.id, selected_ids=[])
    progress = annotator_progress(annotator=ann, campaign=fx.campaign)
    assert progress["done_today"] == 1 and progress["done_in_campaign"] == 1
    assert progress["left_in_campaign"] == 3
    assert progress["left_for_me"] == 1  # the other anchor's iteration-1 or -2, not this one's


# --- Real threads, one database connection each ------------------------------------------


def _worker(user, campaign, results: dict, errors: list, barrier: threading.Barrier) -> None:
    """One annotator in its own thread and DB connection: next -> submit until nothing left."""
    try:
        barrier.wait()
        while True:
            task = task_next(annotator=user, campaign_name=campaign.name)
            if task is None:
                break
            results.setdefault(user.username, []).append(task.id)
            ids = candidate_ids(task)[:2]
            task_submit(annotator=user, task_id=task.id, selected_ids=ids,
                        submission_id=f"{user.username}-{task.id}")
            # a network retry of the same answer must store nothing more
            task_submit(annotator=user, task_id=task.id, selected_ids=ids,
                        submission_id=f"{user.username}-{task.id}")
    except Exception as exc:  # surfaced in the main thread
        errors.append(exc)
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("per_task", [1, 2, 3])
def test_concurrent_annotators_never_collide(per_task: int):
    # given: 12 anchors x 2 iterations, 8 annotators in 8 threads
    fx = campaign_build(anchors=12, candidates=5, per_task=per_task)
    users = [annotator_create(f"t{i}") for i in range(8)]
    results: dict[str, list[int]] = {}
    errors: list[Exception] = []
    barrier = threading.Barrier(len(users))
    threads = [threading.Thread(target=_worker, args=(u, fx.campaign, results, errors, barrier))
               for u in users]
    # when
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    # then
    assert not errors, errors
    answers = list(Annotation.objects.values_list("task_id", "annotator__username",
                                                  "task__anchor_id"))
    assert len(answers) == len(fx.tasks) * per_task  # nothing lost, nothing duplicated
    handed_out = Counter(t for tasks in results.values() for t in tasks)
    assert all(n == per_task for n in handed_out.values())  # a task to per_task people only
    per_person_anchor = Counter((user, anchor) for _, user, anchor in answers)
    assert max(per_person_anchor.values()) == 1  # never both iterations to one annotator
    assert sorted(handed_out) == sorted(t.id for t in fx.tasks)
    assert Task.objects.filter(status=Task.Status.DONE).count() == len(fx.tasks)
    assert not Lease.objects.exists()
    for ann in Annotation.objects.all():
        assert ann.selected.count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_for_one_task_lease_it_once():
    fx = campaign_build(anchors=1, candidates=3, iterations=(1,))
    users = [annotator_create(f"r{i}") for i in range(10)]
    got: list[int | None] = []
    barrier = threading.Barrier(len(users))

    def grab(user) -> None:
        try:
            barrier.wait()
            task = task_next(annotator=user, campaign_name=fx.campaign.name)
            got.append(task.id if task else None)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=grab, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(got, key=lambda x: x or 0) == [None] * 9 + [fx.tasks[0].id]
    assert Lease.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_expired_lease_returns_task_and_parallel_resubmits_store_once():
    fx = campaign_build(anchors=1, candidates=3, iterations=(1,), lease_seconds=1)
    a, b = annotator_create("a"), annotator_create("b")
    task = task_next(annotator=a, campaign_name=fx.campaign.name)
    _expire(task)
    assert task_next(annotator=b, campaign_name=fx.campaign.name).id == task.id
    barrier = threading.Barrier(5)
    outcomes: list[bool] = []

    def submit() -> None:
        try:
            barrier.wait()
            outcomes.append(task_submit(annotator=b, task_id=task.id, selected_ids=[],
                                        submission_id="retry").created)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=submit) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == [False] * 4 + [True]
    assert Annotation.objects.count() == 1
