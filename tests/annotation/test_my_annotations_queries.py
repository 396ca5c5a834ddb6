"""``GET /api/annotations/``: a constant number of queries however many answers it lists."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from annotation.models import Campaign
from annotation.selectors import annotators_group
from tests.pairbuilder.helpers import annotate, stickers_make, task_make, user_make

pytestmark = pytest.mark.django_db


def _answers(annotator, campaign: Campaign, count: int, offset: int) -> None:
    names = [f"q{offset + i}.png" for i in range(count + 3)]
    s = stickers_make(names)
    for i in range(count):
        candidates = [s[names[i + 1]], s[names[i + 2]], s[names[i + 3]]]
        annotate(task_make(campaign, s[names[i]], candidates), annotator,
                 [candidates[2], candidates[0]])  # stored out of rank order on purpose


def _listed(client: APIClient) -> tuple[list[dict], int]:
    with CaptureQueriesContext(connection) as queries:
        rows = client.get("/api/annotations/").json()
    return rows, len(queries)


def test_listing_more_answers_costs_no_more_queries():
    # given: an annotator with two answers
    user = user_make("ann")
    user.groups.add(annotators_group())
    campaign = Campaign.objects.create(name="n1")
    client = APIClient()
    client.force_authenticate(user)
    _answers(user, campaign, 2, 0)
    few, few_queries = _listed(client)
    # when: they have twelve
    _answers(user, campaign, 10, 100)
    many, many_queries = _listed(client)
    # then: the same number of queries, and every selection in candidate rank order
    assert len(few) == 2 and len(many) == 12
    assert many_queries == few_queries
    for row in many:
        ranks = [int(name[1:-4]) for name in row["selected"]]
        assert len(ranks) == 2 and ranks == sorted(ranks)
