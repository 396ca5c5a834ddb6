"""Makes the README's screenshots (docs/screenshots/) from the test fixtures, in headless
Chromium. Skipped unless STICKERSIM_SCREENSHOTS names the output folder:

    STICKERSIM_SCREENSHOTS=docs/screenshots .venv/bin/pytest tests/frontend/test_screenshots.py
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from tests.frontend.dashboard_factory import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # see test_annotator_browser.py

OUT = os.environ.get("STICKERSIM_SCREENSHOTS", "")
MAX_COLOURS = 96  # a palette PNG: a page of flat colours stays small in the repo
MAX_HEIGHT = 2200  # px of a long page kept in a screenshot


@pytest.fixture
def out() -> Path:
    if not OUT:
        pytest.skip("set STICKERSIM_SCREENSHOTS=<folder> to make the screenshots")
    folder = Path(OUT)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _save(png: bytes, path: Path) -> None:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=MAX_COLOURS, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def _login(page, live_server, username: str, next_url: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")


@pytest.fixture
def world(settings):
    settings.ROOT_URLCONF = "tests.frontend.urls_with_media"
    from tests.frontend.demo_fixture import demo_library_campaign

    return demo_library_campaign()


def test_screenshots(browser, live_server, world, out):
    fx, sticker = world
    name = fx.campaign.campaign.name
    # the annotator page: a laptop on a second visit, then a phone
    laptop = browser.new_page(viewport={"width": 1366, "height": 768})
    laptop.add_init_script("localStorage.setItem('stickersim.instructionsSeen', '1')")
    _login(laptop, live_server, "ben", f"/campaigns/{name}/annotate/")
    laptop.wait_for_selector("#candidates .tile >> nth=19")
    laptop.wait_for_timeout(500)
    for i in (1, 4, 6):
        laptop.locator("#candidates .tile").nth(i).click()
    _save(laptop.screenshot(), out / "annotator-desktop.png")
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    _login(phone, live_server, "chloe", f"/campaigns/{name}/annotate/")
    phone.wait_for_selector("#candidates .tile >> nth=19")
    phone.wait_for_timeout(500)
    _save(phone.screenshot(), out / "annotator-phone.png")
    # the dashboard and a sticker page, as staff
    staff = browser.new_page(viewport={"width": 1366, "height": 900})
    _login(staff, live_server, "ana", f"/campaigns/{name}/")
    staff.wait_for_function("() => window.Chart && Chart.getChart('chart-activity')")
    height = min(staff.evaluate("() => document.documentElement.scrollHeight"), MAX_HEIGHT)
    _save(staff.screenshot(full_page=True, clip={"x": 0, "y": 0, "width": 1366,
                                                  "height": height}), out / "dashboard.png")
    staff.goto(f"{live_server.url}/library/stickers/{sticker.pk}/")
    staff.wait_for_selector("#pairs")
    staff.evaluate("() => document.querySelectorAll('img').forEach(i => i.loading = 'eager')")
    staff.wait_for_function("() => [...document.images].every(i => i.complete)")
    staff.wait_for_timeout(300)
    height = min(staff.evaluate("() => document.documentElement.scrollHeight"), MAX_HEIGHT)
    _save(staff.screenshot(full_page=True, clip={"x": 0, "y": 0, "width": 1366,
                                                  "height": height}), out / "sticker.png")
