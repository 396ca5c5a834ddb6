"""Refusals made before a view, a parser or the database sees a request.

- A body over its limit is answered 413 from its declared length, before a byte of it is read:
  DRF's JSON parser reads the request stream itself (Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``
  guards ``request.body`` and form fields, not that stream), and a multipart upload would be
  spooled to disk in full before a serializer could look at its size. Multipart bodies may
  carry two sticker files (the similarity endpoint), anything else only a small JSON document.
- A NUL character in the path or the query string is answered 400: PostgreSQL text cannot
  hold one, so a campaign name or a filter with ``%00`` in it would otherwise be a 500.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


def body_limit(content_type: str) -> int:
    """The most bytes a request body of this content type may have."""
    if content_type.lower().startswith("multipart/form-data"):
        # two sticker files (similarity of two uploads) plus their form fields and boundaries
        return 2 * settings.STICKER_MAX_BYTES + settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def declared_length(meta: dict) -> int:
    """CONTENT_LENGTH as a number (0 when absent or not a number, as Django reads it)."""
    try:
        return max(0, int(meta.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


class RequestLimitsMiddleware:
    """Answers over-long bodies (413) and NUL characters in the URL (400) itself."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = declared_length(request.META)
        limit = body_limit(request.META.get("CONTENT_TYPE", ""))
        if length > limit:
            response = JsonResponse(
                {"detail": f"request body: {length:,} bytes, over the limit of {limit:,}"},
                status=413)
            # The body was not read: the connection cannot carry another request.
            response["Connection"] = "close"
            return response
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            return JsonResponse({"detail": "url: a NUL character is not allowed"}, status=400)
        return self.get_response(request)
