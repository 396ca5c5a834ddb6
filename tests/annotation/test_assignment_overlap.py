"""Hand-out order with several annotators per task (``annotators_per_task`` 2 and 3): abandoned,
skipped and partially held tasks; no double lease, no lost slot; answers and skips only with the
caller's lease (Label Studio #795, #4190, #4781, PR #3575 as test cases)."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from annotation.errors import InputError
from annotation.models import Annotation, Lease, Skip, Task
from annotation.selectors import annotator_progress
from annotation.services.assignment import LeasedTask, task_next, task_skip, task_submit
from tests.annotation.campaign_factory import annotator_create, campaign_build

pytestmark = pytest.mark.django_db


def _expire(task: LeasedTask) -> None:
    time.sleep(max(0.0, (task.lease_expires_at - timezone.now()).total_seconds()) + 0.05)


def _next(user, fx) -> LeasedTask | None:
    return task_next(annotator=user, campaign_name=fx.campaign.name)


@pytest.mark.parametrize("per_task", [2, 3])
def test_a_partially_held_task_fills_before_the_next_one(per_task: int):
    # given: three anchors, iteration 1 only, per_task annotators each
    fx = campaign_build(anchors=3, iterations=(1,), per_task=per_task)
    users = [annotator_create(f"u{i}") for i in range(per_task + 1)]
    # when each asks for a task in turn
    picks = [_next(u, fx) for u in users]
    # then the first task takes per_task people, the next person gets the second task
    assert [p.id for p in picks[:per_task]] == [fx.tasks[0].id] * per_task
    assert picks[per_task].id == fx.tasks[1].id
    # and no one holds two slots of one task
    assert Lease.objects.filter(task_id=fx.tasks[0].id).count() == per_task


@pytest.mark.parametrize("per_task", [2, 3])
def test_an_abandoned_slot_goes_out_before_free_tasks(per_task: int):
    # given: the first task full (every slot leased), the first lease short-lived
    fx = campaign_build(anchors=3, iterations=(1,), per_task=per_task, lease_seconds=1)
    holders = [annotator_create(f"h{i}") for i in range(per_task)]
    first = _next(holders[0], fx)
    time.sleep(0.6)  # the others' leases end later than the first one's
    for h in holders[1:]:
        assert _next(h, fx).id == first.id
    late = annotator_create("late")
    assert _next(late, fx).id == fx.tasks[1].id  # the full task is skipped over
    # when the first holder's lease runs out (the others' are still live)
    _expire(first)
    newcomer = annotator_create("newcomer")
    # then the freed slot goes out first, though task 2 and 3 have free slots
    assert _next(newcomer, fx).id == first.id
    # and the task is full again: nobody else gets it
    assert _next(annotator_create("another"), fx).id == fx.tasks[1].id


@pytest.mark.parametrize("per_task", [2, 3])
def test_a_partially_held_task_with_an_expired_lease_keeps_its_place(per_task: int):
    # given: one slot of task 1 leased and let expire, the other slots never taken
    fx = campaign_build(anchors=2, iterations=(1,), per_task=per_task, lease_seconds=1)
    gone = annotator_create("gone")
    held = _next(gone, fx)
    _expire(held)
    # when per_task others ask
    users = [annotator_create(f"u{i}") for i in range(per_task)]
    picks = [_next(u, fx) for u in users]
    # then all of them get task 1, in order: no slot lost to the expired lease
    assert [p.id for p in picks] == [held.id] * per_task
    assert not Lease.objects.filter(annotator=gone).exists()  # cleared, not lingering
    for u in users:
        task_submit(annotator=u, task_id=held.id, selected_ids=[])
    assert Task.objects.get(pk=held.id).status == Task.Status.DONE
    assert Annotation.objects.filter(task_id=held.id).count() == per_task


@pytest.mark.parametrize("per_task", [2, 3])
def test_a_skipped_slot_is_offered_to_others_and_never_to_the_skipper(per_task: int):
    # given: task 1 full
    fx = campaign_build(anchors=2, iterations=(1,), per_task=per_task)
    users = [annotator_create(f"u{i}") for i in range(per_task)]
    picks = [_next(u, fx) for u in users]
    assert len({p.id for p in picks}) == 1
    # when one of them skips
    task_skip(annotator=users[0], task_id=picks[0].id)
    # then the skipper gets the next task, a newcomer the freed slot
    assert _next(users[0], fx).id == fx.tasks[1].id
    assert _next(annotator_create("new"), fx).id == picks[0].id
    assert Skip.objects.filter(annotator=users[0]).count() == 1


@pytest.mark.parametrize("per_task", [2, 3])
def test_answers_fill_exactly_per_task_slots(per_task: int):
    # given: more annotators than slots on a one-task campaign
    fx = campaign_build(anchors=1, iterations=(1,), per_task=per_task)
    users = [annotator_create(f"u{i}") for i in range(per_task + 2)]
    # when everyone asks and whoever got it answers
    got = [(u, _next(u, fx)) for u in users]
    for u, t in got:
        if t is not None:
            task_submit(annotator=u, task_id=t.id, selected_ids=[])
    # then exactly per_task answers, the task done, nobody left holding it
    assert sum(t is not None for _, t in got) == per_task
    assert Annotation.objects.count() == per_task
    assert Task.objects.get().status == Task.Status.DONE
    assert not Lease.objects.exists()
    assert annotator_progress(annotator=users[-1], campaign=fx.campaign)["left_for_me"] == 0


def test_submit_without_the_callers_lease_is_refused_and_stores_nothing():
    # given: annotator1 holds the task; annotator2 never leased it
    fx = campaign_build(anchors=2, iterations=(1,))
    holder, other = annotator_create("holder"), annotator_create("other")
    task = _next(holder, fx)
    # when annotator2 answers it
    with pytest.raises(InputError, match="you do not hold this task"):
        task_submit(annotator=other, task_id=task.id, selected_ids=[])
    # then nothing is stored and the holder's lease is intact
    assert not Annotation.objects.exists()
    assert Lease.objects.filter(task_id=task.id, annotator=holder).exists()


def test_submit_to_a_free_task_never_leased_is_refused():
    fx = campaign_build(anchors=1, iterations=(1,))
    stranger = annotator_create("stranger")
    with pytest.raises(InputError, match="you do not hold this task"):
        task_submit(annotator=stranger, task_id=fx.tasks[0].id, selected_ids=[])
    assert not Annotation.objects.exists()


def test_skip_of_a_task_someone_else_holds_is_refused_and_stores_nothing():
    fx = campaign_build(anchors=2, iterations=(1,))
    holder, other = annotator_create("holder"), annotator_create("other")
    task = _next(holder, fx)
    with pytest.raises(InputError, match="you do not hold this task"):
        task_skip(annotator=other, task_id=task.id)
    assert not Skip.objects.exists()
    assert Lease.objects.filter(task_id=task.id, annotator=holder).exists()
    # and the task is still the holder's: the other gets the next one
    assert _next(other, fx).id == fx.tasks[1].id


def test_held_until_follows_every_change():
    # given: per_task 2, both slots leased: the hint says "held until the first expiry"
    fx = campaign_build(anchors=1, iterations=(1,), per_task=2)
    a, b = annotator_create("a"), annotator_create("b")
    ta, _ = _next(a, fx), _next(b, fx)
    task = Task.objects.get(pk=ta.id)
    assert task.held_until == Lease.objects.order_by("expires_at").first().expires_at
    # when a skips: a slot is free, the hint is cleared
    task_skip(annotator=a, task_id=ta.id)
    assert Task.objects.get(pk=ta.id).held_until is None
    # when b answers: one answer, no live lease: still free
    task_submit(annotator=b, task_id=ta.id, selected_ids=[])
    assert Task.objects.get(pk=ta.id).held_until is None
