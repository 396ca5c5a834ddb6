"""The review queue's "unreviewed" filter: a decision covers a pair only for its stickers, its
current label and its campaign."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from annotation.models import Campaign
from pairbuilder.models import Pair, PairBuild, PairReview
from pairbuilder.selectors import review_queue
from tests.annotation.campaign_factory import campaign_build

pytestmark = pytest.mark.django_db


def _pair(build: PairBuild, a, b, label: int) -> Pair:
    return Pair.objects.create(build=build, sticker_a=a, sticker_b=b, label=label,
                               co_selected=2, co_displayed=2, query_overlap=0)


def test_unreviewed_leaves_out_only_pairs_decided_for_their_current_label():
    # given a build with four pairs and decisions in this campaign and in another
    fixture = campaign_build(anchors=2, candidates=4, iterations=(1,))
    s = fixture.stickers
    build = PairBuild.objects.create(campaign=fixture.campaign, params={}, status="done")
    decided = _pair(build, s[0], s[1], 1)
    relabelled = _pair(build, s[0], s[2], 0)  # decided when it was a positive
    other_campaign = _pair(build, s[0], s[3], 1)  # decided in another campaign only
    untouched = _pair(build, s[1], s[2], 1)
    curator = get_user_model().objects.create_superuser("curator", password="pw-curator-1")
    elsewhere = Campaign.objects.create(name="elsewhere")
    for campaign, a, b, label in [(fixture.campaign, s[0], s[1], 1),
                                  (fixture.campaign, s[0], s[2], 1),
                                  (elsewhere, s[0], s[3], 1)]:
        PairReview.objects.create(campaign=campaign, sticker_a=a, sticker_b=b, label=label,
                                  decision="accept", reviewer=curator)
    # when the queue is read whole and unreviewed only
    everything = review_queue(build=build)
    unreviewed = review_queue(build=build, only_unreviewed=True)
    # then only the pair decided for its current label in this campaign is left out
    assert everything["total"] == 4
    assert {p["id"] for p in unreviewed["pairs"]} == {relabelled.pk, other_campaign.pk,
                                                     untouched.pk}
    assert unreviewed["total"] == 3 and decided.pk not in {p["id"] for p in unreviewed["pairs"]}
    # and the filter composes with the label filter
    positives = review_queue(build=build, only_unreviewed=True, label=1)
    assert {p["id"] for p in positives["pairs"]} == {other_campaign.pk, untouched.pk}
