"""The API docs (Swagger UI and ReDoc) in real headless Chromium: they render from the
project's own static files, so an offline or firewalled lab can read them."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # see test_annotator_browser.py

PASSWORD = "pw-docs-123"


@pytest.fixture
def staff_page(browser, live_server):
    """A logged-in staff user's page that records every request the browser makes."""
    from tests.annotation.campaign_factory import annotator_create

    annotator_create("ada", password=PASSWORD, staff=True)
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.requested = []  # every URL the page asked for, whatever the host
    page.on("request", lambda request: page.requested.append(request.url))
    page.blocked = []  # what the page's Content-Security-Policy stopped inside the browser
    page.on("requestfailed",
            lambda r: page.blocked.append(r.url) if r.failure == "csp" else None)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_load_state()
    return page


def _foreign(requested: list[str], live_server_url: str) -> list[str]:
    """The requests that went to any host but the live server (data: URLs stay in the page)."""
    own = urlsplit(live_server_url).netloc
    return [u for u in requested
            if urlsplit(u).scheme in ("http", "https", "ws", "wss") and urlsplit(u).netloc != own]


def test_swagger_ui_renders_the_operations_without_leaving_the_server(staff_page, live_server):
    # given: a staff user on a machine whose browser may reach only our server
    page = staff_page
    # when: they open the API docs
    page.goto(f"{live_server.url}/api/docs/")
    # then: Swagger UI draws the operations of our schema, among them the task endpoints
    page.wait_for_selector(".opblock-summary-path", timeout=15000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert len(paths) > 5
    assert any("/api/campaigns/" in p for p in paths)
    assert any(u.endswith("/api/schema/") or "/api/schema/?" in u for u in page.requested)
    # and no request went to a CDN or any other host
    assert _foreign(page.requested, live_server.url) == []


def test_redoc_renders_the_operations_without_leaving_the_server(staff_page, live_server):
    # given / when: the ReDoc view of the same schema
    page = staff_page
    page.goto(f"{live_server.url}/api/redoc/")
    # then: ReDoc's menu lists the operations
    page.wait_for_selector("[role=menuitem], .menu-content label", timeout=20000)
    assert page.locator("h2").count() > 5
    # and nothing left the browser for another host: ReDoc's bundle asks for its CDN logo,
    # which the page's Content-Security-Policy stops before any connection (a request that
    # merely failed, e.g. on this offline machine, would still count against the page)
    assert [u for u in _foreign(page.requested, live_server.url) if u not in page.blocked] == []
