"""The annotator page in real headless Chromium against the live test server."""

from __future__ import annotations

import os
import re
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


def _eventually(check, timeout: float = 5.0, page=None):
    """Polls ``check`` until it returns something truthy (the live server answers in its own
    threads). Pass ``page`` while a ``page.route`` handler is active: it only runs while the
    test waits inside Playwright."""
    deadline = time.time() + timeout
    while True:
        result = check()
        if result or time.time() > deadline:
            return result
        if page is None:
            time.sleep(0.05)
        else:
            page.wait_for_timeout(50)


def _wait_ahead(page) -> None:
    """Waits until the page has leased the next task (by a fetch-ahead, or with the last
    answer's own request) and that answer's request is over: the page takes a new answer."""
    from annotation.models import Lease

    _eventually(lambda: Lease.objects.filter(annotator__username="anna").count() >= 2)
    _wait_pending(page, 0)


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


# --- the outbox: no answer is lost to the network, a reload or a closed tab ---

# with or without the query string of a submit that also leases the next task (?next=...)
SUBMIT_ROUTE = re.compile(r"/api/tasks/\d+/submit/(\?|$)")


def _outbox(page) -> list[dict]:
    """The unsent answers the page keeps in localStorage, each with its storage key."""
    return page.evaluate(
        "() => Object.keys(localStorage).filter(k => k.startsWith('stickersim.outbox.'))"
        ".map(k => ({key: k, ...JSON.parse(localStorage.getItem(k))}))")


def _wait_pending(page, count: int, timeout: int = 10000) -> str:
    """Waits until the indicator counts ``count`` unsent answers; returns what it says."""
    page.wait_for_function(
        "n => document.getElementById('outbox').dataset.pending === String(n)",
        arg=count, timeout=timeout)
    return page.text_content("#outbox")


def _open_and_select(page, live_server, campaign, picks: tuple[int, ...]) -> tuple[str, list]:
    """Logs anna in, toggles the tiles ``picks`` of the first task and waits for the
    fetch-ahead; returns the task id and the selected sticker ids."""
    _login(page, live_server, f"/campaigns/{campaign.campaign.name}/annotate/")
    page.wait_for_selector("#candidates .tile >> nth=19")
    tiles = page.locator("#candidates .tile")
    for i in picks:
        tiles.nth(i).click()
    _wait_ahead(page)
    return _task_id(page), sorted(tiles.nth(i).get_attribute("data-sticker-id") for i in picks)


def _answers(username: str = "anna") -> list[Annotation]:
    return list(Annotation.objects.filter(annotator__username=username).order_by("pk"))


def test_an_answer_survives_a_network_failure_and_a_reload_and_is_stored_once(
    browser, live_server, campaign
):
    # given: anna's first task with two candidates selected, and every submit failing at the
    # network level
    from django.contrib.auth import get_user_model

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    dialogs: list[str] = []

    def accept(dialog) -> None:
        dialogs.append(dialog.type)
        dialog.accept()

    page.on("dialog", accept)
    first, expected = _open_and_select(page, live_server, campaign, (0, 4))
    page.route(SUBMIT_ROUTE, lambda route: route.abort())
    # when: she submits
    page.keyboard.press("Enter")
    # then: the next task is on screen at once; her answer waits in localStorage
    second = first
    assert _wait_new_task(page, first) < 1.0
    second = _task_id(page)
    assert _wait_pending(page, 1) == "1 answer waiting to be sent"
    [entry] = _outbox(page)
    anna = get_user_model().objects.get(username="anna")
    assert entry["key"].startswith(f"stickersim.outbox.v1/browser/{anna.pk}/")
    assert entry["task"] == int(first) and entry["kind"] == "submit"
    assert sorted(entry["body"]["selected"]) == expected
    assert entry["body"]["submission_id"] == entry["id"]
    assert _eventually(lambda: _answers() == [], page=page)
    # when: the page is reloaded while the network still fails
    page.reload()
    # then: leaving was warned about; the new page reads the answer back and shows the task
    # after it, never the answered one
    assert dialogs == ["beforeunload"]
    page.wait_for_selector("#candidates .tile >> nth=19")
    assert _task_id(page) == second
    assert _wait_pending(page, 1) == "1 answer waiting to be sent"
    # when: the network is back and the page is reloaded again
    page.unroute(SUBMIT_ROUTE)
    page.reload()
    # then: the answer is stored exactly once, with her selection, and leaves the outbox
    assert _wait_pending(page, 0) == "All answers saved"
    assert _outbox(page) == []
    answers = _eventually(_answers, page=page)
    assert [(a.task_id, a.submission_id) for a in answers] == [(int(first), entry["id"])]
    assert sorted(answers[0].selected.values_list("sticker_id", flat=True)) == expected
    page.wait_for_function("() => document.getElementById('done-today').textContent === '1'",
                           timeout=5000)


def test_a_refused_answer_leaves_the_outbox_with_a_message_naming_the_task(
    browser, live_server, campaign
):
    # given: anna's lease on the task on screen expired and bob answered it meanwhile, so the
    # server will refuse her answer with 409
    import datetime as dt

    from django.utils import timezone

    from annotation.models import Lease, Task
    from tests.annotation.campaign_factory import annotator_create

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    first, _ = _open_and_select(page, live_server, campaign, ())
    bob = annotator_create("bob")
    past = timezone.now() - dt.timedelta(seconds=1)
    assert _eventually(lambda: Lease.objects.filter(
        task_id=int(first), annotator__username="anna").update(expires_at=past))
    assert _eventually(lambda: Annotation.objects.create(
        task_id=int(first), annotator=bob, submission_id="bob-1"))
    assert _eventually(lambda: Task.objects.filter(pk=int(first)).update(
        status=Task.Status.DONE))  # one answer per task in this campaign
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if "/submit/" in r.url else None)
    # when: she answers "none similar"
    page.keyboard.press("n")
    # then: the refusal is shown naming the task, the answer leaves the outbox, the next task
    # is on screen, and only bob's answer is stored
    _wait_new_task(page, first)
    page.wait_for_selector("#message.error")
    message = page.text_content("#message")
    assert message.startswith(f"Task {first}: ") and "another annotator" in message
    assert statuses == [409]
    assert _wait_pending(page, 0) == "All answers saved"
    assert _outbox(page) == []
    assert _eventually(lambda: _answers("anna") == [] and len(_answers("bob")) == 1)


def test_an_answer_sent_twice_is_stored_once(browser, live_server, campaign):
    # given: the server stores anna's first send but its response is lost on the way back,
    # so the page cannot tell and sends the same outbox entry again
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    first, expected = _open_and_select(page, live_server, campaign, (1, 2, 19))
    sent: list[dict] = []

    def lose_first_response(route) -> None:
        response = route.fetch()
        sent.append({"status": response.status, "body": route.request.post_data_json})
        if len(sent) == 1:
            route.abort()  # stored on the server, a network failure for the page
        else:
            route.fulfill(response=response)

    page.route(SUBMIT_ROUTE, lose_first_response)
    # when: she submits
    page.keyboard.press("Enter")
    # then: the retry of the same entry gets the first answer back (200), and leaves the outbox
    _wait_new_task(page, first)
    assert _wait_pending(page, 0) == "All answers saved"
    assert [s["status"] for s in sent] == [201, 200]
    assert sent[0]["body"] == sent[1]["body"]
    # then: one annotation, with her selection
    answers = _eventually(_answers, page=page)
    assert [a.task_id for a in answers] == [int(first)]
    assert answers[0].submission_id == sent[0]["body"]["submission_id"]
    assert sorted(answers[0].selected.values_list("sticker_id", flat=True)) == expected


def test_answers_given_offline_wait_and_go_out_when_the_browser_is_back_online(
    browser, live_server, campaign
):
    # given: anna's browser goes offline with a task on screen and the next one fetched ahead
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    first, expected = _open_and_select(page, live_server, campaign, (3,))
    context.set_offline(True)
    # when: she submits, then skips the next task
    page.keyboard.press("Enter")
    _wait_new_task(page, first)
    second = _task_id(page)
    page.keyboard.press("s")
    # then: both wait, and the indicator says she is offline; no task is on screen
    assert _wait_pending(page, 2) == "2 answers waiting to be sent (offline)"
    page.wait_for_function("() => !document.getElementById('annotator').dataset.taskId")
    waiting = sorted(_outbox(page), key=lambda e: e["savedAt"])
    assert [(e["kind"], e["task"]) for e in waiting] == [("submit", int(first)),
                                                         ("skip", int(second))]
    # Retries come 1, 2, 4 s apart (+-25%): after 4.5 s offline the next one is at least
    # 0.75 s away, so only the `online` event can send them within the next 0.7 s.
    page.wait_for_timeout(4500)
    # when: the browser is back online
    context.set_offline(False)
    # then: the `online` event sends both at once, then the next task loads
    assert _wait_pending(page, 0, timeout=700) == "All answers saved"
    _wait_new_task(page, "")
    answers = _eventually(_answers, page=page)
    assert [a.task_id for a in answers] == [int(first)]
    assert sorted(answers[0].selected.values_list("sticker_id", flat=True)) == expected
    assert _eventually(
        lambda: Skip.objects.filter(task_id=int(second), annotator__username="anna").exists())
    context.close()


def test_the_page_works_without_local_storage(browser, live_server, campaign):
    # given: a browser whose localStorage throws (private mode, storage blocked)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(
        "Object.defineProperty(window, 'localStorage', { get() {"
        " throw new DOMException('blocked', 'SecurityError'); } });")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    first, expected = _open_and_select(page, live_server, campaign, (0,))
    # when: she submits
    page.keyboard.press("Enter")
    # then: the answer is kept in memory until stored, without a script error
    _wait_new_task(page, first)
    assert _wait_pending(page, 0) == "All answers saved"
    answer = _eventually(lambda: Annotation.objects.filter(task_id=int(first)).first())
    assert sorted(answer.selected.values_list("sticker_id", flat=True)) == expected
    assert errors == []
    context.close()


# --- one request per answer: the answer's own request brings the task after next ---


@pytest.fixture
def long_campaign(settings):
    """Eight anchors: eight tasks for anna, enough to answer six in a row with two ahead."""
    from tests.annotation.campaign_factory import annotator_create, campaign_build

    settings.ROOT_URLCONF = "tests.frontend.urls_with_media"
    fx = campaign_build(name="long", anchors=8)
    annotator_create("anna", password=PASSWORD)
    return fx


def _count_api_requests(page) -> list[str]:
    """The page's API requests from now on, each as its kind: submit, next, progress, ...;
    a submit that also leases the next task is "submit+next"."""
    seen: list[str] = []

    def kind(request) -> None:
        path = request.url.split("?")[0]
        if "/api/" not in path:
            return
        name = path.rstrip("/").rsplit("/", 1)[-1]
        seen.append(name + ("+next" if name == "submit" and "next=" in request.url else ""))

    page.on("request", kind)
    return seen


def test_answering_in_a_row_takes_one_request_per_answer(browser, live_server, long_campaign):
    # given: anna's page with her first task on screen and the next one fetched ahead
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    requests = _count_api_requests(page)
    _login(page, live_server, f"/campaigns/{long_campaign.campaign.name}/annotate/")
    page.wait_for_selector("#candidates .tile >> nth=19")
    _wait_ahead(page)
    tiles = page.locator("#candidates .tile")
    # when: she answers six tasks in a row, with the mouse, with keys, and "none similar"
    answers = [  # (keys pressed or tiles clicked, then how she answers)
        ((0,), "#btn-submit"), (("2", "w"), "Enter"), ((), "n"),
        ((), "#btn-none"), (("5",), "Enter"), ((3, 4), "Enter"),
    ]
    shown, expected = [_task_id(page)], {}
    for picks, how in answers:
        for pick in picks:
            if isinstance(pick, int):
                tiles.nth(pick).click()
            else:
                page.keyboard.press(pick)
        chosen = page.eval_on_selector_all(
            "#candidates .tile[aria-pressed=true]", "ts => ts.map(t => t.dataset.stickerId)")
        expected[int(shown[-1])] = sorted(chosen)
        if how.startswith("#"):
            page.click(how)
        else:
            page.keyboard.press(how)
        # then: the next task is on screen at once, and its answer's request brings the next
        assert _wait_new_task(page, shown[-1]) < 1.0
        shown.append(_task_id(page))
        _wait_ahead(page)
    # then: one request per answer; the next-task endpoint only on load, progress only on load
    assert requests.count("submit+next") == 6
    assert requests.count("next") <= 2 and requests.count("progress") <= 2
    assert len(requests) == 6 + requests.count("next") + requests.count("progress")
    # then: each task was shown once, and each answer is stored once, as given
    assert len(set(shown)) == len(shown) == 7
    stored = _eventually(lambda: len(_answers()) == 6 and _answers(), page=page)
    assert [a.task_id for a in stored] == [int(t) for t in shown[:6]]
    assert len({a.submission_id for a in stored}) == 6
    for a in stored:
        assert sorted(a.selected.values_list("sticker_id", flat=True)) == expected[a.task_id]
    page.wait_for_function("() => document.getElementById('done-today').textContent === '6'",
                           timeout=5000)


def test_when_the_answer_that_brings_the_next_task_fails_a_fetch_ahead_does(
    browser, live_server, campaign
):
    # given: anna's first task on screen, the next fetched ahead, and her next answer's request
    # (the one that also leases the task after next) failing once at the network level
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    first, expected = _open_and_select(page, live_server, campaign, (2,))
    requests = _count_api_requests(page)
    failed: list[str] = []

    def fail_first_with_next(route) -> None:
        if "next=" in route.request.url and not failed:
            failed.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route(SUBMIT_ROUTE, fail_first_with_next)
    # when: she submits
    page.keyboard.press("Enter")
    assert _wait_new_task(page, first) < 1.0
    second = _task_id(page)
    # then: the outbox sends the answer again, without asking for a task, and it is stored once
    assert _eventually(lambda: [a.task_id for a in _answers()] == [int(first)], page=page)
    assert _wait_pending(page, 0) == "All answers saved"
    assert requests.count("submit+next") == 1 and requests.count("submit") == 1
    answer = _answers()[0]
    assert sorted(answer.selected.values_list("sticker_id", flat=True)) == expected
    # then: a plain fetch-ahead leased the task after the one on screen
    assert requests.count("next") >= 1
    _wait_ahead(page)
    # when: she answers the task on screen
    page.keyboard.press("n")
    # then: the task fetched ahead is on screen at once, without a reload
    assert _wait_new_task(page, second) < 1.0
    assert _task_id(page) not in (first, second)
    assert _eventually(lambda: len(_answers()) == 2, page=page)


def test_done_today_counts_answers_on_the_page_and_matches_the_server_after_a_reload(
    browser, live_server, long_campaign
):
    # given: anna's page, her counts read from the server on load
    from django.contrib.auth import get_user_model

    from annotation.selectors import annotator_progress

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    requests = _count_api_requests(page)
    _login(page, live_server, f"/campaigns/{long_campaign.campaign.name}/annotate/")
    page.wait_for_function("() => document.getElementById('done-today').textContent === '0'",
                           timeout=5000)
    left = int(page.text_content("#left"))
    # when: she answers two tasks and skips a third
    for key in ("n", "n", "s"):
        _wait_ahead(page)
        old = _task_id(page)
        page.keyboard.press(key)
        _wait_new_task(page, old)
    _wait_ahead(page)
    # then: the page counted the two answers (not the skip) without asking the server again
    assert page.text_content("#done-today") == "2"
    assert page.text_content("#left") == str(left - 2)
    assert requests.count("progress") == 1
    # when: she reloads the page
    page.reload()
    # then: the server's counts are the ones the page had
    page.wait_for_selector("#candidates .tile >> nth=19")
    page.wait_for_function("() => document.getElementById('done-today').textContent === '2'",
                           timeout=5000)
    assert page.text_content("#left") == str(left - 2)
    anna = get_user_model().objects.get(username="anna")
    server = _eventually(lambda: annotator_progress(
        annotator=anna, campaign=long_campaign.campaign), page=page)
    assert (server["done_today_in_campaign"], server["left_in_campaign"]) == (2, left - 2)
