"""The library browser for staff: a searchable, paginated list of the stickers and a page per
sticker (queries, candidate sets, pairs with their evidence, nearest neighbours)."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from annotation.models import Sticker
from frontend.selectors.library import (
    MEDIA_LABELS,
    LibraryFilter,
    library_languages,
    library_search,
    sticker_card,
    sticker_detail,
)

PAGE_SIZE = 48  # stickers per page: six rows of a laptop-wide grid


@staff_member_required
def library(request: HttpRequest) -> HttpResponse:
    filters = LibraryFilter(
        text=request.GET.get("q", "")[:200], language=request.GET.get("language", "")[:16],
        media_type=request.GET.get("media_type", "")[:8],
        has_queries=request.GET.get("has_queries", "") if request.GET.get(
            "has_queries") in ("yes", "no") else "")
    page = Paginator(library_search(filters=filters), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "frontend/library.html", {
        "filters": filters, "page": page, "stickers": [
            {**sticker_card(s), "query_count": s.query_count} for s in page.object_list],
        "languages": library_languages(), "media_types": MEDIA_LABELS.items(),
        "query_string": query.urlencode(),
    })


@staff_member_required
def sticker(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_object_or_404(Sticker, pk=pk)
    return render(request, "frontend/sticker.html", {"row": row, **sticker_detail(sticker=row)})
