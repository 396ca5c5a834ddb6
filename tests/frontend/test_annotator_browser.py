"""The annotator page in real headless Chromium against the live test server."""

from __future__ import annotations

import os
import time

import pytest

from annotation.models import Annotation, Skip

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Playwright's sync API runs an event loop in this thread; the ORM calls made by the test
# itself are still plain synchronous calls, so Django's async guard is safe to lift here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "pw-browser-123"


@pytest.fixture
def campaign(settings):
    from tests.annotation.campaign_factory import annotator_create, campaign_build

    settings.ROOT_URLCONF = "tests.frontend.urls_with_media"
    fx = campaign_build(name="browser", anchors=4, animated=True)
    annotator_create("anna", password=PASSWORD)
    return fx


def _login(page, live_server, next_url: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next={next_url}")
    page.fill("#id_username", "anna")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")


def _task_id(page) -> str:
    return page.eval_on_selector("#annotator", "el => el.dataset.taskId || ''")


def _wait_new_task(page, old: str) -> float:
    """Seconds until a different task is on screen."""
    start = time.perf_counter()
    page.wait_for_function(
        "old => { const id = document.getElementById('annotator').dataset.taskId || '';"
        " return id !== '' && id !== old; }",
        arg=old, timeout=5000)
    return time.perf_counter() - start


def _eventually(check, timeout: float = 5.0):
    """Polls ``check`` until it returns something truthy. On SQLite the live server and the
    test share one in-memory database whose tables are locked while the server writes, so a
    read may fail with "database table is locked": that is retried too."""
    from django.db import OperationalError

    deadline = time.time() + timeout
    while True:
        try:
            result = check()
        except OperationalError:
            result = None
        if result or time.time() > deadline:
            return result
        time.sleep(0.05)


def _wait_ahead(page) -> None:
    """Waits until the page has leased the next task (the fetch-ahead finished)."""
    from annotation.models import Lease

    _eventually(lambda: Lease.objects.filter(annotator__username="anna").count() >= 2)


def test_annotator_selects_with_mouse_and_keys_submits_none_and_skips(
    browser, live_server, campaign
):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    _login(page, live_server, f"/campaigns/{campaign.campaign.name}/annotate/")
    page.wait_for_selector("#candidates .tile >> nth=19")
    first = _task_id(page)
    tiles = page.locator("#candidates .tile")
    assert tiles.count() == 20
    # select: tile 1 with the mouse, tile 3 and tile 11 with keys, then tile 3 off again
    tiles.nth(0).click()
    page.keyboard.press("3")
    page.keyboard.press("q")
    page.keyboard.press("3")
    assert [tiles.nth(i).get_attribute("aria-pressed") for i in (0, 2, 10)] == [
        "true", "false", "true"]
    expected = [tiles.nth(i).get_attribute("data-sticker-id") for i in (0, 10)]
    _wait_ahead(page)
    # submit with Enter: the next task is on screen at once (it was fetched ahead)
    page.keyboard.press("Enter")
    assert _wait_new_task(page, first) < 1.0  # no network wait: it was fetched ahead
    second = _task_id(page)
    answer = _eventually(lambda: Annotation.objects.filter(task_id=int(first)).first())
    chosen = _eventually(lambda: sorted(answer.selected.values_list("sticker_id", flat=True)))
    assert chosen == sorted(expected)
    assert answer.duration_ms is not None and answer.duration_ms > 0
    # "none are similar" with N
    _wait_ahead(page)
    page.keyboard.press("n")
    assert _wait_new_task(page, second) < 1.0
    third = _task_id(page)
    none = _eventually(lambda: Annotation.objects.filter(task_id=int(second)).first())
    assert _eventually(lambda: none.selected.count() == 0)
    # skip with S
    _wait_ahead(page)
    page.keyboard.press("s")
    _wait_new_task(page, third)
    assert _eventually(
        lambda: Skip.objects.filter(task_id=int(third), annotator__username="anna").exists())
    # progress on screen comes from the database
    page.wait_for_function("() => document.getElementById('done-today').textContent === '2'",
                           timeout=5000)
    # the page works at phone width too: the grid folds to a few columns, no sideways scroll
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390


def test_animated_stickers_animate_on_the_page(browser, live_server, campaign):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    _login(page, live_server, f"/campaigns/{campaign.campaign.name}/annotate/")
    gif = page.locator("#candidates img[data-sticker-id$='.gif']")
    gif.wait_for()
    page.wait_for_function(
        "() => { const i = document.querySelector(\"#candidates img[data-sticker-id$='.gif']\");"
        " return i && i.complete && i.naturalWidth > 0; }", timeout=5000)
    # the gif: its pixels change between two screenshots (frames are 100 ms apart)
    shots = set()
    for _ in range(6):
        shots.add(gif.screenshot())
        page.wait_for_timeout(130)
    assert len(shots) >= 2
    # the webm: a muted looping <video> that plays
    video = page.locator("#candidates video[data-sticker-id$='.webm']")
    video.wait_for()
    assert video.evaluate("v => v.muted && v.loop && v.autoplay")
    page.wait_for_function(
        "() => { const v = document.querySelector(\"#candidates video\");"
        " return v && !v.paused && v.currentTime > 0; }", timeout=10000)
    t0 = video.evaluate("v => v.currentTime")
    page.wait_for_timeout(400)
    t1 = video.evaluate("v => v.currentTime")
    assert t1 != t0  # time moves (or wrapped round the loop)
