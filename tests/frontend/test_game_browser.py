"""Sticktionary in real headless Chromium: two players in two browser contexts play a round
each way, then an admin reviews the failed one (issue 11's acceptance)."""

from __future__ import annotations

import os

import pytest

from annotation.models import Query
from game.models import Round

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls are plain
# synchronous calls, so Django's async guard is safe to lift here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "pw-annotator-1"  # tests.annotation.campaign_factory.annotator_create's default


@pytest.fixture
def game(settings):
    from tests.game.factories import game_create, player_create, queries_add, stickers_create

    settings.ROOT_URLCONF = "tests.frontend.urls_with_media"
    stickers = stickers_create(12)
    # Three stickers already have queries: the labeler's preview finds them; the game hands
    # out the stickers without queries first.
    queries_add(stickers[9], "facepalm", "oh no")
    queries_add(stickers[10], "good job")
    queries_add(stickers[11], "sleepy")
    player_create("ann")
    player_create("bob")
    player_create("boss", staff=True)
    return game_create(name="play", labelers_per_sticker=1)


def _player(browser, live_server, username: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/?next=/play/play/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    return context, page


def _wait_role(page, role: str, not_round: str = "") -> str:
    page.wait_for_function(
        "([role, old]) => { const g = document.getElementById('game');"
        " return g.dataset.role === role && g.dataset.roundId && g.dataset.roundId !== old; }",
        arg=[role, not_round], timeout=10000)
    return page.eval_on_selector("#game", "g => g.dataset.roundId")


def test_two_players_play_a_round_each_way_and_the_admin_accepts_the_failed_one(
        browser, live_server, game):
    # given: ann logged in, in her own browser context
    ann_ctx, ann = _player(browser, live_server, "ann")

    # when ann labels: types, sees the preview of the library's search, submits
    ann_round = _wait_role(ann, "label")
    ann.fill("#query-input", "facepalm")
    ann.wait_for_selector("#preview .preview-item img", timeout=5000)
    assert "not what it looks like" in ann.inner_text("#guidance")
    ann.click("#btn-label-submit")
    _wait_role(ann, "label", not_round=ann_round)  # ann's next sticker

    # and bob, later and in another context (asynchronous play), retrieves ann's round,
    # ranking the target first
    bob_ctx, bob = _player(browser, live_server, "bob")
    target = Round.objects.select_related("sticker").get(pk=ann_round).sticker.sticker_id
    bob_round = _wait_role(bob, "retrieve")
    assert bob_round == ann_round
    assert "facepalm" in bob.inner_text("#queries")
    assert bob.locator("#candidates .tile").count() == 9
    bob.click(f"#candidates .tile[data-sticker-id='{target}']")
    assert bob.inner_text(f"#candidates .tile[data-sticker-id='{target}'] .rank") == "1"
    bob.click("#btn-retrieve-submit")

    # then bob sees the outcome and his points; the query lands on the sticker from the game
    bob.wait_for_selector("#outcome:not([hidden])")
    assert bob.inner_text("#outcome-title") == "Found at rank 1!"
    bob.wait_for_function("document.getElementById('points').textContent === '3'")
    q = Query.objects.get(sticker__sticker_id=target, normalized="facepalm")
    assert (q.source, q.game_origins.get().author.username) == ("game", "ann")
    # and after the reveal bob suggests a query of his own
    bob.fill("#suggest-input", "ugh")
    bob.click("#btn-suggest")
    bob.wait_for_selector("#message:has-text('added')")
    assert Query.objects.get(sticker__sticker_id=target, normalized="ugh").source == "game"

    # when bob labels in turn (the roles alternate) ...
    bob.click("#btn-next")
    bob_label = _wait_role(bob, "label")
    bob.fill("#query-input", "yellow cat, helo")
    bob.click("#btn-label-submit")
    bob.wait_for_function(f"document.getElementById('game').dataset.roundId !== '{bob_label}'")

    # ... and ann passes on her sticker, gets bob's round and misses it
    ann.click("#btn-label-skip")
    assert _wait_role(ann, "retrieve") == bob_label
    bob_target = Round.objects.select_related("sticker").get(pk=bob_label).sticker.sticker_id
    wrong = [t for t in ann.eval_on_selector_all(
        "#candidates .tile", "ts => ts.map(t => t.dataset.stickerId)") if t != bob_target]
    ann.click(f"#candidates .tile[data-sticker-id='{wrong[0]}']")
    ann.click("#btn-retrieve-submit")
    ann.wait_for_selector("#outcome:not([hidden])")
    assert ann.inner_text("#outcome-title") == "Not found"
    # ann's points are her labelling's: 3
    ann.wait_for_function("document.getElementById('points').textContent === '3'")
    # and ann's next labeller screen tells her how her earlier round went
    ann.click("#btn-next")
    _wait_role(ann, "label")
    assert "your 'facepalm' was found at rank 1" in ann.inner_text("#feedback")
    assert not Query.objects.filter(normalized="helo").exists()

    # when the admin reviews: the failed round is in the queue; fix the typo, accept (A)
    boss_ctx = browser.new_context()
    boss = boss_ctx.new_page()
    boss.goto(f"{live_server.url}/accounts/login/?next=/play/play/review/")
    boss.fill("#id_username", "boss")
    boss.fill("#id_password", PASSWORD)
    boss.click("#login-form button[type=submit]")
    boss.wait_for_selector(f".review-round[data-round-id='{bob_label}']")
    boss.fill(".review-round.current .fix[value='helo']", "hello")
    boss.press(".review-round.current .fix[value='helo']", "Enter")  # leaves the field
    boss.keyboard.press("a")
    boss.wait_for_selector(f".review-round[data-round-id='{bob_label}']", state="detached")

    # then its queries join the sticker's Q_i with source game, the typo fixed
    accepted = set(Query.objects.filter(sticker__sticker_id=bob_target)
                   .values_list("normalized", "source"))
    assert accepted == {("yellow cat", "game"), ("hello", "game")}
    for ctx in (ann_ctx, bob_ctx, boss_ctx):
        ctx.close()
