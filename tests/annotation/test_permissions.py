"""Who may see and change what: annotators, other annotators, anonymous users, staff; CSRF."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from annotation.models import Annotation
from tests.annotation.campaign_factory import annotator_create, campaign_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    fx = campaign_build(anchors=2, candidates=4)
    alice, bob = annotator_create("alice"), annotator_create("bob")
    client = APIClient()
    client.force_authenticate(alice)
    task = client.post(f"/api/campaigns/{fx.campaign.name}/tasks/next/").json()
    answer = client.post(f"/api/tasks/{task['id']}/submit/", {"none": True}, format="json").json()
    return fx, alice, bob, task, answer


def _as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_annotator_cannot_read_or_change_another_annotators_answer(world):
    fx, alice, bob, task, answer = world
    client = _as(bob)
    assert client.get(f"/api/annotations/{answer['id']}/").status_code == 404
    assert client.get("/api/annotations/").json() == []
    # an answer "for" alice's task is bob's own answer at best, never a change of alice's
    resp = client.post(f"/api/tasks/{task['id']}/submit/", {"selected": []}, format="json")
    assert resp.status_code in (400, 409)
    assert client.put(f"/api/annotations/{answer['id']}/", {}).status_code in (404, 405)
    assert client.delete(f"/api/annotations/{answer['id']}/").status_code in (404, 405)
    assert Annotation.objects.get().annotator == alice


def test_annotator_cannot_see_stats_exports_or_admin(world):
    fx, alice, *_ = world
    client = _as(alice)
    name = fx.campaign.name
    assert client.get(f"/api/campaigns/{name}/stats/").status_code == 403
    assert client.get(f"/api/campaigns/{name}/annotations.jsonl").status_code == 403
    web = Client()
    web.force_login(alice)
    assert web.get(f"/campaigns/{name}/").status_code == 302  # to the admin login
    assert web.get("/admin/annotation/annotation/").status_code == 302


def test_staff_sees_stats_export_and_campaign_page(world):
    fx, *_ = world
    admin = get_user_model().objects.create_superuser("root", password="pw-root-123")
    client = _as(admin)
    stats = client.get(f"/api/campaigns/{fx.campaign.name}/stats/").json()
    assert stats["iterations"][0]["annotations"] == 1
    export = client.get(f"/api/campaigns/{fx.campaign.name}/annotations.jsonl")
    assert b'"annotator": "alice"' in b"".join(export.streaming_content)
    web = Client()
    web.force_login(admin)
    page = web.get(f"/campaigns/{fx.campaign.name}/")
    assert page.status_code == 200 and b"Agreement" in page.content
    assert web.get("/admin/annotation/annotation/").status_code == 200
    cset = fx.tasks[0].candidate_set_id
    assert web.get(f"/admin/annotation/candidateset/{cset}/change/").status_code == 200


def test_anonymous_gets_nothing(world):
    fx, _, _, task, answer = world
    client = APIClient()
    name = fx.campaign.name
    for url in [f"/api/campaigns/{name}/tasks/next/", f"/api/tasks/{task['id']}/submit/",
                f"/api/tasks/{task['id']}/skip/"]:
        assert client.post(url, {}, format="json").status_code in (401, 403)
    for url in ["/api/campaigns/", f"/api/campaigns/{name}/progress/", "/api/annotations/",
                f"/api/annotations/{answer['id']}/", f"/api/campaigns/{name}/stats/",
                f"/api/campaigns/{name}/annotations.jsonl", "/api/ping/"]:
        assert client.get(url).status_code in (401, 403), url
    web = Client()
    for url in ["/", f"/campaigns/{name}/annotate/", f"/campaigns/{name}/"]:
        assert web.get(url).status_code == 302, url


def test_user_outside_the_annotators_group_is_refused(world):
    fx, *_ = world
    outsider = get_user_model().objects.create_user("eve", password="pw-eve-12345")
    assert _as(outsider).post(f"/api/campaigns/{fx.campaign.name}/tasks/next/").status_code == 403
    web = Client()
    web.force_login(outsider)
    assert web.get(f"/campaigns/{fx.campaign.name}/annotate/").status_code == 403


def test_csrf_is_enforced_on_the_pages_session_auth_posts(world):
    fx, *_ = world
    annotator_create("carol", password="pw-carol-123")
    web = Client(enforce_csrf_checks=True)
    assert web.login(username="carol", password="pw-carol-123")
    url = f"/api/campaigns/{fx.campaign.name}/tasks/next/"
    # without the token: refused
    assert web.post(url).status_code == 403
    # with the token the page's script sends: accepted
    page = web.get(f"/campaigns/{fx.campaign.name}/annotate/")
    token = page.cookies["csrftoken"].value
    resp = web.post(url, HTTP_X_CSRFTOKEN=token)
    assert resp.status_code in (200, 204)
