"""The review page in real headless Chromium: animated stickers, keys, decision recorded."""

from __future__ import annotations

import os

import pytest

from pairbuilder.models import PairReview

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # ORM calls beside Playwright's loop
PASSWORD = "pw-curator-123"


@pytest.fixture
def build(settings):
    """Positives among s000.png, s002.gif and s003.webm (selected together in both iterations)."""
    from pairbuilder import services
    from tests.annotation.campaign_factory import annotator_create, campaign_build
    from tests.pairbuilder.helpers import annotate

    settings.ROOT_URLCONF = "tests.frontend.urls_with_media"
    fx = campaign_build(name="review", anchors=2, candidates=4, animated=True)
    annotator = annotator_create("anna")
    by_name = {s.sticker_id: s for s in fx.stickers}
    for task in fx.tasks:
        if task.anchor.sticker_id == "s000.png":
            annotate(task, annotator, [by_name["s002.gif"], by_name["s003.webm"]])
    annotator_create("curator", password=PASSWORD, staff=True)
    return services.pair_build_start(campaign=fx.campaign, params={})


def test_curator_reviews_with_keys(browser, live_server, build):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/accounts/login/?next=/pair-builds/{build.id}/review/")
    page.fill("#id_username", "curator")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    # given: the first pair, two images side by side
    page.wait_for_selector("#sticker-a img")
    assert page.text_content("#sticker-b figcaption") == "s002.gif"
    # when: J moves to the next pair, which has a webm shown as a looping muted video
    page.keyboard.press("j")
    page.wait_for_selector("#sticker-b video")
    video = page.locator("#sticker-b video")
    assert video.evaluate("v => v.muted && v.loop && v.autoplay")
    # and: A accepts it
    page.keyboard.press("a")
    page.wait_for_function("document.getElementById('review-message').textContent.includes('Accepted')")
    review = PairReview.objects.get()
    assert review.decision == "accept" and review.reviewer.username == "curator"
    assert (review.sticker_a.sticker_id, review.sticker_b.sticker_id) == ("s000.png", "s003.webm")
    # when: the accept moved on to the third pair; K twice goes back to the first, R rejects
    page.wait_for_function("document.getElementById('position').textContent.startsWith('pair 3')")
    page.keyboard.press("k")
    page.keyboard.press("k")
    page.wait_for_function("document.getElementById('position').textContent.startsWith('pair 1')")
    page.keyboard.press("r")
    page.wait_for_function("document.getElementById('review-message').textContent.includes('Rejected')")
    rejected = PairReview.objects.get(decision="reject")
    assert rejected.sticker_b.sticker_id == "s002.gif"
    assert PairReview.objects.filter(decision="accept").count() == 1
