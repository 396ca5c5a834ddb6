"""The JSON API an annotator's page and scripts use: next task, submit, skip, progress."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import Annotation, Lease, Skip, Task
from tests.annotation.campaign_factory import annotator_create, campaign_build, candidate_ids

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    fx = campaign_build(anchors=3, animated=True)
    user = annotator_create("ann")
    client = APIClient()
    client.force_authenticate(user)
    return fx, user, client


def test_next_returns_anchor_candidates_media_and_lease(setup):
    fx, _, client = setup
    resp = client.post(f"/api/campaigns/{fx.campaign.name}/tasks/next/")
    assert resp.status_code == 200
    body = resp.json()
    assert body["anchor"]["url"].startswith("/media/stickers/")
    assert len(body["candidates"]) == 20
    assert [c["rank"] for c in body["candidates"]] == list(range(1, 21))
    types = {c["media_type"] for c in body["candidates"]}
    assert {"gif", "webm", "png"} <= types
    assert body["lease_expires_at"]
    # a refresh (a second POST) returns the same task; GET leases nothing
    assert client.post(f"/api/campaigns/{fx.campaign.name}/tasks/next/").json()["id"] == body["id"]
    assert client.get(f"/api/campaigns/{fx.campaign.name}/tasks/next/").status_code == 405
    ahead = client.post(f"/api/campaigns/{fx.campaign.name}/tasks/next/?exclude={body['id']}")
    assert ahead.json()["id"] != body["id"]


def test_submit_none_and_skip_and_progress(setup):
    fx, user, client = setup
    name = fx.campaign.name
    # given
    task = client.post(f"/api/campaigns/{name}/tasks/next/").json()
    chosen = [task["candidates"][0]["sticker_id"], task["candidates"][4]["sticker_id"]]
    # when: submit twice with the same key
    body = {"selected": chosen, "submission_id": "abc", "duration_ms": 2100}
    first = client.post(f"/api/tasks/{task['id']}/submit/", body, format="json")
    again = client.post(f"/api/tasks/{task['id']}/submit/", body, format="json")
    # then
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["selected"] == chosen and first.json()["id"] == again.json()["id"]
    assert Annotation.objects.count() == 1
    # none: an explicit empty answer
    nxt = client.post(f"/api/campaigns/{name}/tasks/next/").json()
    empty = client.post(f"/api/tasks/{nxt['id']}/submit/", {"selected": []}, format="json")
    assert empty.status_code == 400  # an empty selection must say none=true
    none = client.post(f"/api/tasks/{nxt['id']}/submit/", {"none": True}, format="json")
    assert none.status_code == 201 and none.json()["selected"] == []
    # skip
    third = client.post(f"/api/campaigns/{name}/tasks/next/").json()
    assert client.post(f"/api/tasks/{third['id']}/skip/").status_code == 200
    assert Skip.objects.filter(task_id=third["id"], annotator=user).exists()
    progress = client.get(f"/api/campaigns/{name}/progress/").json()
    assert progress["done_today"] == 2 and progress["done_in_campaign"] == 2
    assert progress["left_in_campaign"] == 4
    # three anchors: two answered; the third's skipped iteration is not offered again, its
    # other iteration is
    assert progress["left_for_me"] == 1
    last = client.post(f"/api/campaigns/{name}/tasks/next/").json()
    assert last["id"] != third["id"] and last["anchor"] == third["anchor"]


def test_submit_refusals_are_409_with_a_message(setup):
    fx, _, client = setup
    task = client.post(f"/api/campaigns/{fx.campaign.name}/tasks/next/").json()
    resp = client.post(f"/api/tasks/{task['id']}/submit/",
                       {"selected": [task["anchor"]["sticker_id"]]}, format="json")
    assert resp.status_code == 409
    assert "not candidates of task" in resp.json()["detail"]


def test_unknown_campaign_and_task_are_404(setup):
    # given
    _, _, client = setup
    # when / then: no lease is taken, nothing is stored
    assert client.post("/api/campaigns/no-such-campaign/tasks/next/").status_code == 404
    assert client.post("/api/tasks/999999/submit/", {"none": True},
                       format="json").status_code == 404
    assert client.post("/api/tasks/999999/skip/").status_code == 404
    assert not Annotation.objects.exists() and not Skip.objects.exists()


def test_next_payload_is_the_candidate_set_in_rank_order(setup):
    # given: the database's own view of the task
    fx, _, client = setup
    # when
    body = client.post(f"/api/campaigns/{fx.campaign.name}/tasks/next/").json()
    # then: the payload (built by a PostgreSQL function there, by the ORM here) is exactly it
    task = Task.objects.select_related("anchor").get(pk=body["id"])
    assert body["iteration"] == task.iteration and body["campaign"] == fx.campaign.name
    assert body["anchor"]["sticker_id"] == task.anchor.sticker_id
    assert body["anchor"]["url"] == task.anchor.file.url
    assert [c["sticker_id"] for c in body["candidates"]] == candidate_ids(task)
    first = task.candidate_set.candidates.select_related("sticker").get(rank=1).sticker
    assert body["candidates"][0] | {"rank": None} == {
        "sticker_id": first.sticker_id, "url": first.file.url, "media_type": first.media_type,
        "is_animated": first.is_animated, "width": first.width, "height": first.height,
        "rank": None}


def test_submit_with_next_stores_the_answer_and_leases_the_next_task(setup):
    # given
    fx, user, client = setup
    name = fx.campaign.name
    task = client.post(f"/api/campaigns/{name}/tasks/next/").json()
    ahead = client.post(f"/api/campaigns/{name}/tasks/next/?exclude={task['id']}").json()
    chosen = [task["candidates"][1]["sticker_id"]]
    # when: the page answers the task on screen and asks for the one after the buffered one
    resp = client.post(f"/api/tasks/{task['id']}/submit/?next={name}&exclude={ahead['id']}",
                       {"selected": chosen, "submission_id": "k"}, format="json")
    # then: the answer is stored once, and a third task is leased, not the buffered one
    assert resp.status_code == 201
    body = resp.json()
    assert body["selected"] == chosen and body["task"] == task["id"]
    assert body["next"]["id"] not in (task["id"], ahead["id"])
    assert body["next"]["anchor"]["sticker_id"] != ahead["anchor"]["sticker_id"]
    assert len(body["next"]["candidates"]) == 20
    assert Annotation.objects.filter(task_id=task["id"], annotator=user).count() == 1
    # and a retried request (the response was lost) stores nothing and leases nothing more
    again = client.post(f"/api/tasks/{task['id']}/submit/?next={name}&exclude={ahead['id']}",
                        {"selected": chosen, "submission_id": "k"}, format="json")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert again.json()["next"]["id"] == body["next"]["id"]
    assert Lease.objects.filter(annotator=user).count() == 2
    # and a refused answer leases nothing
    stranger = annotator_create("stranger")
    other = APIClient()
    other.force_authenticate(stranger)
    refused = other.post(f"/api/tasks/{task['id']}/submit/?next={name}", {"none": True},
                         format="json")
    assert refused.status_code == 409
    assert not Lease.objects.filter(annotator=stranger).exists()


def test_token_auth_for_scripts(setup):
    fx, user, _ = setup
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    task = client.post(f"/api/campaigns/{fx.campaign.name}/tasks/next/").json()
    resp = client.post(f"/api/tasks/{task['id']}/submit/",
                       {"selected": candidate_ids(Task.objects.get(pk=task["id"]))[:1]},
                       format="json")
    assert resp.status_code == 201
    assert client.get("/api/ping/").json() == {"ok": True}


def test_my_annotations_list_and_detail(setup):
    fx, _, client = setup
    task = client.post(f"/api/campaigns/{fx.campaign.name}/tasks/next/").json()
    created = client.post(f"/api/tasks/{task['id']}/submit/", {"none": True},
                          format="json").json()
    mine = client.get("/api/annotations/", {"campaign": fx.campaign.name}).json()
    assert [a["id"] for a in mine] == [created["id"]]
    assert client.get(f"/api/annotations/{created['id']}/").status_code == 200


def test_campaign_list(setup):
    fx, _, client = setup
    rows = client.get("/api/campaigns/").json()
    assert rows[0]["name"] == fx.campaign.name and rows[0]["tasks_total"] == 6


def test_openapi_schema_is_valid_and_our_views_raise_no_warning(tmp_path, capsys):
    # --validate checks the whole schema against the OpenAPI spec; the warnings of the other
    # apps' views are theirs, ours must have none (spectacular --fail-on-warn on this app)
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--file", str(out))
    err = capsys.readouterr().err
    assert "annotation/apis.py" not in err, err
    text = out.read_text()
    assert "/api/campaigns/{name}/tasks/next/" in text
    assert "/api/tasks/{task_id}/submit/" in text
