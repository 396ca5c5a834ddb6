"""Upload sizes are checked before the body is read: a body over its limit is answered 413
from its declared length (the stream is never touched), a sticker file over the sticker limit
is a 400 naming the field before the service reads it. The same against a real gunicorn
process, with its memory measured, is in tests/deploy/test_gunicorn.py."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile

MB = 1024 * 1024


class _Untouchable(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def read(self, *args):
        raise AssertionError("the body was read")

    readline = readinto = read


def _declared(client, url: str, size: int, content_type: str):
    return client.generic("POST", url, b"", content_type=content_type,
                          CONTENT_LENGTH=str(size), **{"wsgi.input": _Untouchable()})


def test_a_300_mb_upload_is_refused_without_being_read(world):
    # given a multipart upload declaring 300 MB
    # when it is sent to the similarity endpoint
    resp = _declared(world.annotator1, "/api/similarity/", 300 * MB,
                     "multipart/form-data; boundary=xyz")
    # then 413 naming the limit, and the stream was never read (_Untouchable)
    assert resp.status_code == 413
    assert "over the limit" in resp.json()["detail"]


def test_a_json_body_over_the_data_limit_is_refused_without_being_read(world, settings):
    resp = _declared(world.annotator1, f"/api/campaigns/{world.name}/tasks/next/",
                     settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1, "application/json")
    assert resp.status_code == 413


def test_a_sticker_file_over_the_sticker_limit_is_a_400_naming_it(world, settings):
    # given a sticker limit of 1 KB and a 4 KB upload (under the body limit)
    settings.STICKER_MAX_BYTES = 1024
    big = SimpleUploadedFile("big.png", b"\x89PNG" + b"0" * 4096, content_type="image/png")
    # when it is sent for a similarity
    resp = world.annotator1.post("/api/similarity/", {"file_a": big, "sticker_b": "s000.png"},
                                 format="multipart")
    # then 400 naming file_a, before any model is looked for
    assert resp.status_code == 400
    assert "file_a" in resp.json()
