"""The hot paths' statements are prepared once per connection (annotation/prepared.py); the
ORM's statements never are, and with prepared statements off nothing is."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.authtoken.models import Token

from annotation.authentication import _token_sql, token_user
from annotation.selectors import annotators_group
from annotation.services import assignment
from tests.annotation.campaign_factory import annotator_create, campaign_build, candidate_ids

pytestmark = pytest.mark.django_db


def _prepared() -> list[str]:
    """The statements prepared on this connection (its own, by name; not SQL PREPAREs)."""
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        return [row[0] for row in cur.fetchall()]


@pytest.fixture
def fresh_cache():
    """psycopg's prepared-statement cache and the server's, emptied for this test."""
    connection.ensure_connection()
    raw = connection.connection
    raw._prepared.clear()
    with connection.cursor() as cur:
        cur.execute("DEALLOCATE ALL")
    yield raw


def _annotator(name: str = "ann") -> tuple:
    user = get_user_model().objects.create_user(name)
    user.groups.add(annotators_group())
    return user, Token.objects.create(user=user)


def test_token_lookup_is_prepared_once_and_reused(fresh_cache):
    user, token = _annotator()
    sql, _ = _token_sql()
    # when the key is looked up three times on one connection
    for _ in range(3):
        found_user, _found, in_group = token_user(token.key)
        assert (found_user.pk, in_group) == (user.pk, True)
    # then the server holds one prepared statement for it, with $n placeholders
    statements = [s for s in _prepared() if "authtoken_token" in s]
    assert len(statements) == 1
    assert "$1" in statements[0] and "$2" in statements[0] and "%s" not in statements[0]
    # and an unknown key still reads as unknown through the same statement
    assert token_user("0" * 40) is None
    assert len([s for s in _prepared() if "authtoken_token" in s]) == 1
    assert sql.count("%s") == 2


def test_orm_statements_are_not_prepared(fresh_cache):
    _annotator()
    assert get_user_model().objects.filter(username="ann").count() == 1
    list(Token.objects.all())
    assert _prepared() == []


def test_submit_and_next_through_prepared_statements(fresh_cache):
    # given a campaign and an annotator holding a task
    fx = campaign_build(anchors=3)
    ann = annotator_create("ann")
    leased = assignment.task_next(annotator=ann, campaign_name=fx.campaign.name)
    selected = candidate_ids(leased)[:2]
    # when the annotator submits and takes the next task, then retries the same submission
    first, nxt = assignment.task_submit_and_next(
        annotator=ann, task_id=leased.id, selected_ids=selected, campaign_name=fx.campaign.name,
        submission_id="s-1", duration_ms=1200)
    again, _ = assignment.task_submit_and_next(
        annotator=ann, task_id=leased.id, selected_ids=selected, campaign_name=fx.campaign.name,
        submission_id="s-1", duration_ms=1200)
    # then the answer is stored once, the retry is recognised, a next task is leased
    assert first.created is True and again.created is False
    assert first.annotation.pk == again.annotation.pk
    assert first.selected_ids == selected
    assert nxt is not None and nxt.id != leased.id
    # and both calls went through one prepared statement
    assert len([s for s in _prepared() if "annotation_task_submit_next" in s]) == 1


def test_nothing_is_prepared_when_turned_off(fresh_cache):
    # DATABASE_PREPARED_STATEMENTS=0 leaves psycopg's threshold at None: it never prepares
    fresh_cache.prepare_threshold = None
    try:
        _user, token = _annotator()
        assert token_user(token.key) is not None
        assert token_user(token.key) is not None
        assert _prepared() == []
    finally:
        fresh_cache.prepare_threshold = 0
