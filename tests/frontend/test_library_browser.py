"""The library browser and the sticker page in real headless Chromium."""

from __future__ import annotations

import os

import pytest

from tests.frontend.dashboard_factory import PASSWORD, dashboard_build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # see test_annotator_browser.py


@pytest.fixture
def fx(settings):
    settings.ROOT_URLCONF = "tests.frontend.urls_with_media"
    fx = dashboard_build(animated=True)
    fx.annotators[0].is_staff = True
    fx.annotators[0].save()
    return fx


def _login(page, live_server, next_url: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next={next_url}")
    page.fill("#id_username", "ana")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")


def test_the_sticker_page_shows_a_pairs_evidence(browser, live_server, fx):
    # given: s000 has an accepted positive with s001 (selected together 3 times, shown
    # together 4 times, one shared query, text cosine 0.81)
    s = fx.campaign.stickers
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    # when: a curator searches the library for it and opens its page
    _login(page, live_server, "/library/?q=s000")
    page.wait_for_selector("#library-results a")
    assert page.locator("#library-results a").count() == 1
    page.click("#library-results a")
    page.wait_for_selector("#pairs-table")
    # then: the pair's row shows its evidence and its review
    row = page.locator(f"#pairs-table tr[data-other='{s[1].sticker_id}']")
    cells = {c: row.locator(f"td.{c}").inner_text() for c in
             ("co-selected", "co-displayed", "overlap", "cosine", "review")}
    assert cells == {"co-selected": "3", "co-displayed": "4", "overlap": "1", "cosine": "0.81",
                     "review": "accepted"}
    assert row.locator(".badge").inner_text().lower() == "positive"
    # and the sticker itself is drawn from its file, at its own size
    hero = page.locator(".hero-media .sticker")
    assert hero.evaluate("i => i.complete && i.naturalWidth") == s[0].width
    assert hero.bounding_box()["width"] == pytest.approx(s[0].width, abs=0.5)


def test_an_animated_sticker_plays_on_its_page(browser, live_server, fx):
    # given: the GIF sticker of the library
    gif = fx.campaign.stickers[6]
    assert gif.sticker_id.endswith(".gif")
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    # when: its page is open
    _login(page, live_server, f"/library/stickers/{gif.pk}/")
    hero = page.locator(".hero-media img.sticker")
    hero.wait_for()
    page.wait_for_function("() => document.querySelector('.hero-media img').complete")
    # then: its pixels change between screenshots (the original GIF, not a still)
    shots = set()
    for _ in range(6):
        shots.add(hero.screenshot())
        page.wait_for_timeout(130)
    assert len(shots) >= 2
    # and the page lists the candidate sets it was in
    assert page.locator("#candidate-sets tbody tr").count() == 12
