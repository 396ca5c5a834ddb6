"""A deploy as the README describes it: gunicorn, DEBUG off, static files collected and served
by the app (whitenoise), sticker files only to annotators and staff.

One gunicorn process on the test database serves a campaign with a webm sticker; a logged-in
annotator loads the annotator page with its CSS and JavaScript and the stickers (a Range
request for the webm), an anonymous client gets 403 for the same URLs, and a 300 MB body is
refused without the worker's memory growing by its size.
"""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import psutil
import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from rest_framework.authtoken.models import Token

from tests.annotation.campaign_factory import annotator_create, campaign_build
from tests.conftest import _database_url_for_test_db
from tests.deploy.conftest import REPO, production_env, run_manage

pytestmark = pytest.mark.django_db(transaction=True)

MB = 1024 * 1024
GUNICORN = Path(REPO / ".venv" / "bin" / "gunicorn")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def deployed(tmp_path, settings):
    """(base URL, gunicorn process, campaign fixture) of a production-settings server."""
    import sys

    gunicorn = Path(sys.executable).parent / "gunicorn"
    fx = campaign_build(anchors=1, candidates=3, animated=True)
    user = annotator_create("web-annotator")
    # hashed as production hashes (the test settings' fast MD5 hasher is not enabled there)
    user.password = PBKDF2PasswordHasher().encode("pw-web-annotator-1", "fixedsalt123")
    user.save(update_fields=["password"])
    env = production_env(DATABASE_URL=_database_url_for_test_db(),
                         STICKERSIM_VAR_DIR=str(tmp_path / "var"),
                         STICKERSIM_MEDIA_ROOT=str(settings.MEDIA_ROOT),
                         DJANGO_ALLOWED_HOSTS="127.0.0.1",
                         DJANGO_SECURE_SSL_REDIRECT="0")  # plain HTTP here; a proxy does TLS
    collected = run_manage(["collectstatic", "--noinput", "-v", "0"], env)
    assert collected.returncode == 0, collected.stderr
    port = _free_port()
    log = open(tmp_path / "gunicorn.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([str(gunicorn), "config.wsgi:application", "--bind",
                             f"127.0.0.1:{port}", "--workers", "1", "--threads", "2"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            requests.get(f"{base}/accounts/login/", timeout=60)  # the worker loads Django
            break
        except (requests.ConnectionError, requests.Timeout):
            assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()[-3000:]
            time.sleep(0.3)
    yield base, proc, fx
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def _logged_in(base: str) -> requests.Session:
    web = requests.Session()
    web.get(f"{base}/accounts/login/", timeout=30)
    resp = web.post(f"{base}/accounts/login/", timeout=30, data={
        "username": "web-annotator", "password": "pw-web-annotator-1",
        "csrfmiddlewaretoken": web.cookies["csrftoken"]})
    assert resp.status_code == 200 and "sessionid" in web.cookies, resp.text[:500]
    return web


def test_the_annotator_page_loads_with_its_css_js_and_stickers(deployed):
    base, _, fx = deployed
    web = _logged_in(base)
    # when the annotator opens the campaign's page
    page = web.get(f"{base}/campaigns/{fx.campaign.name}/annotate/", timeout=30)
    assert page.status_code == 200
    # then its stylesheets and scripts load, with their types
    css = re.findall(r'href="(/static/[^"]+\.css)"', page.text)
    js = re.findall(r'src="(/static/[^"]+\.js)"', page.text)
    assert css and js
    for url in css + js:
        asset = web.get(base + url, timeout=30)
        assert asset.status_code == 200, url
        assert asset.headers["Content-Type"].split(";")[0] in ("text/css", "text/javascript",
                                                               "application/javascript"), url
    # and every sticker file loads for the annotator, the webm also by byte range
    for sticker in fx.stickers:
        url = f"{base}/media/{sticker.file.name}"
        got = web.get(url, timeout=30)
        assert got.status_code == 200 and got.content == sticker.file.open("rb").read()
    webm = next(s for s in fx.stickers if s.media_type == "webm")
    part = web.get(f"{base}/media/{webm.file.name}", headers={"Range": "bytes=0-99"},
                   timeout=30)
    assert part.status_code == 206 and len(part.content) == 100
    assert part.headers["Content-Range"] == f"bytes 0-99/{webm.size_bytes}"
    assert part.headers["Content-Type"] == "video/webm"


def test_an_anonymous_client_gets_no_sticker_and_no_debug_page(deployed):
    base, _, fx = deployed
    for sticker in fx.stickers:
        resp = requests.get(f"{base}/media/{sticker.file.name}", timeout=30,
                            allow_redirects=False)
        assert resp.status_code == 403, sticker.file.name
    missing = requests.get(f"{base}/no-such-page/", timeout=30)
    assert missing.status_code == 404
    assert "Traceback" not in missing.text and "DEBUG = True" not in missing.text


def _worker(proc: subprocess.Popen) -> psutil.Process:
    return psutil.Process(proc.pid).children()[0]


def test_a_300_mb_body_is_refused_without_the_worker_growing_by_its_size(deployed):
    base, proc, fx = deployed
    port = int(base.rsplit(":", 1)[1])
    requests.get(f"{base}/accounts/login/", timeout=30)  # the worker is warm
    token = Token.objects.create(user=get_user_model().objects.get(username="web-annotator"))
    before = _worker(proc).memory_info().rss
    # when an annotator sends a 300 MB JSON body (as much of it as the server will take): DRF's
    # JSON parser would read all of it into memory, twice over (bytes, then text)
    size = 300 * MB
    conn = socket.create_connection(("127.0.0.1", port), timeout=30)
    conn.sendall((f"POST /api/similarity/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  f"Authorization: Token {token.key}\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {size}\r\n\r\n").encode())

    def send_body():
        chunk = b"x" * MB
        try:
            for _ in range(300):
                conn.sendall(chunk)
        except OSError:  # the server answered and closed: it will not read the rest
            pass

    sender = threading.Thread(target=send_body, daemon=True)
    sender.start()
    answer = conn.recv(4096).decode(errors="replace")
    sender.join(timeout=60)
    conn.close()
    after = _worker(proc).memory_info().rss
    # then 413, and the worker's memory did not grow by anything like the body's size
    assert answer.startswith("HTTP/1.1 413"), answer[:300]
    assert after - before < 30 * MB, (before, after)
