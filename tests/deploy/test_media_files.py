"""Sticker files through annotation.media_views: annotators and staff only, in DEBUG or not;
streamed with Range support, or handed to the proxy with X-Accel-Redirect."""

from __future__ import annotations

import pytest
from django.test import Client

from annotation.media_views import byte_range


@pytest.fixture
def sticker_url(world):
    sticker = world.fx.stickers[0]
    return f"/media/{sticker.file.name}", sticker.file.open("rb").read()


def _web(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_an_annotator_gets_the_file_and_a_byte_range(world, sticker_url):
    from django.contrib.auth import get_user_model

    url, data = sticker_url
    web = _web(get_user_model().objects.get(username="annotator1"))
    whole = web.get(url)
    assert whole.status_code == 200 and b"".join(whole.streaming_content) == data
    assert whole["Accept-Ranges"] == "bytes" and whole["Cache-Control"].startswith("private")
    part = web.get(url, HTTP_RANGE="bytes=2-5")
    assert part.status_code == 206 and b"".join(part.streaming_content) == data[2:6]
    assert part["Content-Range"] == f"bytes 2-5/{len(data)}"
    assert web.get(url, HTTP_RANGE=f"bytes={len(data)}-").status_code == 416


def test_anonymous_and_outsiders_get_403(world, sticker_url):
    from django.contrib.auth import get_user_model

    url, _ = sticker_url
    assert _web().get(url).status_code == 403
    assert _web(get_user_model().objects.get(username="outsider")).get(url).status_code == 403


def test_a_token_also_reads_the_file(world, sticker_url):
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    url, _ = sticker_url
    token = Token.objects.create(user=get_user_model().objects.get(username="annotator2"))
    assert Client().get(url, HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200
    assert Client().get(url, HTTP_AUTHORIZATION="Token nope").status_code == 403


def test_with_a_proxy_the_file_is_handed_over_by_x_accel_redirect(world, sticker_url, settings):
    from django.contrib.auth import get_user_model

    settings.MEDIA_ACCEL_REDIRECT = "/protected-media/"
    url, _ = sticker_url
    resp = _web(get_user_model().objects.get(username="annotator1")).get(url)
    assert resp.status_code == 200 and resp.content == b""
    assert resp["X-Accel-Redirect"] == "/protected-media/" + url.removeprefix("/media/")


def test_paths_out_of_media_root_and_missing_files_are_404(world):
    from django.contrib.auth import get_user_model

    web = _web(get_user_model().objects.get(username="annotator1"))
    assert web.get("/media/../config/settings.py").status_code == 404
    assert web.get("/media/%2e%2e/%2e%2e/etc/passwd").status_code == 404
    assert web.get("/media/stickers/none.png").status_code == 404


@pytest.mark.parametrize("header, expected", [
    ("", None), ("bytes=0-9", (0, 9)), ("bytes=5-", (5, 99)), ("bytes=-10", (90, 99)),
    ("bytes=90-500", (90, 99)), ("bytes=100-", False), ("bytes=-0", False),
    ("bytes=0-1,5-6", None), ("items=0-1", None), ("bytes=9-3", False),
])
def test_byte_range(header, expected):
    assert byte_range(header, 100) == expected
