"""Token auth (annotation/authentication.py): the user and the annotator role in one query,
exact on every request (no cache), with DRF's refusals."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.authentication import token_user
from annotation.selectors import annotators_group

pytestmark = pytest.mark.django_db


def _client(token: Token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_token_user_reads_user_token_and_role_in_one_query():
    # given an annotator with a token
    user = get_user_model().objects.create_user("ann", email="a@example.org", first_name="A")
    user.groups.add(annotators_group())
    token = Token.objects.create(user=user)
    # when the key is looked up
    with CaptureQueriesContext(connection) as queries:
        found_user, found_token, in_group = token_user(token.key)
    # then one query gives the same user, the token and the membership
    assert len(queries) == 1
    assert in_group is True
    assert (found_user.pk, found_user.username, found_user.email, found_user.first_name,
            found_user.is_active, found_user.password) == (
        user.pk, "ann", "a@example.org", "A", True, user.password)
    assert found_token.key == token.key and found_token.created == token.created
    assert found_token.user is found_user
    assert token_user("0" * 40) is None


def test_role_change_takes_effect_on_the_next_request():
    user = get_user_model().objects.create_user("ann")
    token = Token.objects.create(user=user)
    client = _client(token)
    # not in the group: authenticated, but not an annotator
    assert client.get("/api/campaigns/").status_code == 403
    user.groups.add(annotators_group())
    assert client.get("/api/campaigns/").status_code == 200
    user.groups.clear()
    assert client.get("/api/campaigns/").status_code == 403


def test_unknown_and_inactive_tokens_are_refused():
    user = get_user_model().objects.create_user("ann")
    user.groups.add(annotators_group())
    token = Token.objects.create(user=user)
    assert _client(token).get("/api/ping/").status_code == 200
    user.is_active = False
    user.save()
    # (403, not 401: session auth comes first and sends no WWW-Authenticate challenge)
    refused = _client(token).get("/api/ping/")
    assert refused.status_code == 403 and "inactive" in refused.json()["detail"]
    unknown = _client(Token(key="f" * 40)).get("/api/ping/")
    assert unknown.status_code == 403 and unknown.json()["detail"] == "Invalid token."


@pytest.mark.parametrize("key", ["abc\x00def", "x" * 100_000, "f" * 41])
def test_keys_no_token_can_have_are_refused_without_a_query(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    with CaptureQueriesContext(connection) as queries:
        refused = client.get("/api/ping/")
    assert refused.status_code == 403 and refused.json()["detail"] == "Invalid token."
    assert not any("authtoken_token" in q["sql"] for q in queries)


def test_staff_without_the_group_may_annotate():
    user = get_user_model().objects.create_user("boss", is_staff=True)
    token = Token.objects.create(user=user)
    assert _client(token).get("/api/campaigns/").status_code == 200
