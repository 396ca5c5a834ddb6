"""Leases are the only way to answer, through the API: submit and skip need the caller's own
lease (409 otherwise, nothing stored), leasing is POST only, and ``submit/?next=`` of an
unknown campaign is refused before the answer is stored."""

from __future__ import annotations

from annotation.models import Annotation, Lease, Skip


def _lease(client, name: str) -> dict:
    resp = client.post(f"/api/campaigns/{name}/tasks/next/")
    assert resp.status_code == 200
    return resp.json()


def test_annotator2_cannot_skip_a_task_annotator1_holds(world):
    # given annotator1 holds a task
    task = _lease(world.annotator1, world.name)
    # when annotator2 skips it
    resp = world.annotator2.post(f"/api/tasks/{task['id']}/skip/")
    # then refused, nothing stored, and annotator1 still holds it
    assert resp.status_code == 409
    assert "do not hold" in resp.json()["detail"]
    assert Skip.objects.count() == 0
    stats = world.admin.get(f"/api/campaigns/{world.name}/stats/").json()
    assert all(it["skips"] == 0 for it in stats["iterations"])
    assert _lease(world.annotator1, world.name)["id"] == task["id"]


def test_annotator2_cannot_submit_to_a_task_they_never_leased(world):
    # given annotator1 holds a task
    task = _lease(world.annotator1, world.name)
    chosen = [task["candidates"][0]["sticker_id"]]
    # when annotator2 answers it
    resp = world.annotator2.post(f"/api/tasks/{task['id']}/submit/", {"selected": chosen},
                                 format="json")
    # then refused and nothing stored
    assert resp.status_code == 409
    assert Annotation.objects.count() == 0


def test_submit_to_an_open_task_nobody_leased_is_refused(world):
    # given a task no one holds
    task = world.fx.tasks[-1]
    # when an annotator answers it without a lease
    resp = world.annotator2.post(f"/api/tasks/{task.pk}/submit/", {"none": True}, format="json")
    # then refused and nothing stored
    assert resp.status_code == 409
    assert Annotation.objects.count() == 0


def test_get_next_task_leases_nothing(world):
    # given an annotator and a campaign with open tasks
    url = f"/api/campaigns/{world.name}/tasks/next/"
    # when the next task is asked for with GET (a prefetch, a crawler, an <img src>)
    resp = world.annotator1.get(url)
    # then refused as a method, and no task is held by anyone
    assert resp.status_code == 405
    assert not Lease.objects.exists()
    assert world.annotator1.post(url).status_code == 200  # POST is the way


def test_submit_with_next_of_an_unknown_campaign_stores_nothing(world):
    # given annotator1 holds a task
    task = _lease(world.annotator1, world.name)
    # when the answer asks for the next task of a campaign that does not exist
    resp = world.annotator1.post(f"/api/tasks/{task['id']}/submit/?next=no-such-campaign",
                                 {"none": True}, format="json")
    # then 404 and the answer was not stored: the lease is still annotator1's
    assert resp.status_code == 404
    assert Annotation.objects.count() == 0
    again = world.annotator1.post(f"/api/tasks/{task['id']}/submit/", {"none": True},
                                  format="json")
    assert again.status_code == 201
