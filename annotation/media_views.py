"""Sticker files (``MEDIA_URL``) for the people who may see them: annotators and staff.

Django never serves ``MEDIA_ROOT`` as a public folder, in DEBUG or not: each request's session
(or token) is checked here, then the file is either handed to the proxy in front
(``X-Accel-Redirect`` to ``settings.MEDIA_ACCEL_REDIRECT``, nginx's ``internal`` location: the
app's worker is free at once) or streamed by the app itself in 256 KiB chunks, with single
``Range`` requests answered 206 (browsers seek and resume webm stickers with them, and
Safari will not play a video whose server ignores them).
"""

from __future__ import annotations

import mimetypes
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseForbidden,
    StreamingHttpResponse,
)
from django.utils._os import safe_join
from django.views.decorators.http import require_safe
from rest_framework.exceptions import AuthenticationFailed

from annotation.authentication import AnnotatorTokenAuthentication
from annotation.selectors import user_is_annotator

CHUNK_BYTES = 256 * 1024  # per read while streaming: one chunk in memory per response
# Content-addressed names never change content, but the answer depends on who asks: private.
CACHE_CONTROL = "private, max-age=86400"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")

mimetypes.add_type("video/webm", ".webm")
mimetypes.add_type("image/webp", ".webp")


def _viewer(request: HttpRequest):
    """The session's user, or the token's (scripts read the URLs the API returns)."""
    if request.user.is_authenticated:
        return request.user
    try:
        found = AnnotatorTokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        return None
    return found[0] if found else None


def byte_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """The (first, last) bytes a ``Range`` header asks for; None: the whole file (no header, or
    one this view does not split, like several ranges); False: not satisfiable (416)."""
    match = _RANGE.match(header.strip()) if header else None
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # "bytes=-500": the last 500 bytes
        length = int(last)
        if length == 0:
            return False
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return False
    return start, end


def _chunks(handle: BinaryIO, start: int, length: int) -> Iterator[bytes]:
    """``length`` bytes from ``start``, a chunk at a time; closes the file at the end."""
    with handle:
        handle.seek(start)
        while length > 0:
            data = handle.read(min(CHUNK_BYTES, length))
            if not data:
                return
            length -= len(data)
            yield data


def _streamed(request: HttpRequest, path: Path, content_type: str) -> HttpResponseBase:
    size = path.stat().st_size
    wanted = byte_range(request.headers.get("Range", ""), size)
    if wanted is False:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    start, end = wanted if wanted else (0, size - 1)
    length = max(0, end - start + 1)
    body = iter(()) if request.method == "HEAD" else _chunks(path.open("rb"), start, length)
    response = StreamingHttpResponse(body, content_type=content_type,
                                     status=206 if wanted else 200)
    response["Content-Length"] = str(length)
    if wanted:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response


@require_safe
def media_file(request: HttpRequest, path: str) -> HttpResponseBase:
    """One file under MEDIA_ROOT: 403 for anyone but annotators and staff, 404 when missing."""
    user = _viewer(request)
    if user is None or not user_is_annotator(user=user):
        return HttpResponseForbidden("Sticker files are for annotators and staff; log in.")
    root = Path(os.path.abspath(settings.MEDIA_ROOT))
    try:
        full = Path(safe_join(root, path))
    except SuspiciousFileOperation as exc:  # "../" out of MEDIA_ROOT
        raise Http404("no such file") from exc
    if not full.is_file():
        raise Http404("no such file")
    content_type = mimetypes.guess_type(full.name)[0] or "application/octet-stream"
    if settings.MEDIA_ACCEL_REDIRECT:
        response: HttpResponseBase = HttpResponse(content_type=content_type)
        relative = full.relative_to(root).as_posix()
        response["X-Accel-Redirect"] = settings.MEDIA_ACCEL_REDIRECT.rstrip("/") + "/" + quote(
            relative)
    else:
        response = _streamed(request, full, content_type)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = CACHE_CONTROL
    return response
