"""Roles on the similarity endpoints: annotators and staff, like the rest of the annotation
API; a logged-in user outside the annotators group and an anonymous client are refused."""

from __future__ import annotations

import pytest


def _similarity(client, world):
    a, b = world.fx.stickers[0].sticker_id, world.fx.stickers[1].sticker_id
    return client.post("/api/similarity/", {"sticker_a": a, "sticker_b": b}, format="json")


def _most_similar(client, world):
    return client.get(f"/api/stickers/{world.fx.stickers[0].sticker_id}/similar/")


@pytest.mark.parametrize("call", [_similarity, _most_similar])
def test_similarity_endpoints_refuse_a_user_outside_the_annotators_group(world, call):
    # given a logged-in user who is not an annotator, and an anonymous client
    # when they ask for a similarity
    # then both are refused
    assert call(world.outsider, world).status_code == 403
    assert call(world.anonymous, world).status_code in (401, 403)


@pytest.mark.parametrize("call", [_similarity, _most_similar])
def test_similarity_endpoints_answer_annotators_and_staff(world, call):
    # given no trained GSE yet
    # when an annotator or an admin asks
    for client in (world.annotator1, world.admin):
        resp = call(client, world)
        # then they get past the role check: the answer is about the model, naming it
        assert resp.status_code == 400
        assert resp.json()["detail"].startswith("model: no trained GSE")
