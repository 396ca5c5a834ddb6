"""Fixtures of the API safety tests: a small campaign, two annotators, an outsider, an admin."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from tests.annotation.campaign_factory import CampaignFixture, annotator_create, campaign_build


@dataclass
class World:
    fx: CampaignFixture
    annotator1: APIClient
    annotator2: APIClient
    outsider: APIClient  # logged in, not in the annotators group
    admin: APIClient
    anonymous: APIClient

    @property
    def name(self) -> str:
        return self.fx.campaign.name


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def world(db) -> World:
    users = get_user_model().objects
    return World(
        fx=campaign_build(anchors=3, candidates=4),
        annotator1=client_for(annotator_create("annotator1")),
        annotator2=client_for(annotator_create("annotator2")),
        outsider=client_for(users.create_user("outsider", password="pw-outsider-1")),
        admin=client_for(users.create_superuser("admin", password="pw-admin-123")),
        anonymous=client_for(None),
    )
