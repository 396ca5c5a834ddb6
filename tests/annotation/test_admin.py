"""The sticker library in the Django admin: list with thumbnails, filters, query search."""

from __future__ import annotations

import pytest

from annotation.models import Query
from tests.annotation import factories

pytestmark = pytest.mark.django_db


def test_sticker_and_query_admin_pages(admin_client, settings, tmp_path):
    # given two stickers, one with a query
    settings.MEDIA_ROOT = tmp_path / "media"
    first, _ = factories.stickers_placeholder(["a.png", "b.webm"])
    Query.objects.create(sticker=first, text="Thumbs up", normalized="thumbs up", language="en")

    # when an admin opens the lists, filtered and searched
    stickers = admin_client.get("/admin/annotation/sticker/?media_type__exact=png")
    queries = admin_client.get("/admin/annotation/query/?q=thumbs")
    detail = admin_client.get(f"/admin/annotation/sticker/{first.pk}/change/")

    # then the pages show the still as a thumbnail, the filter and the search work
    assert stickers.status_code == queries.status_code == detail.status_code == 200
    assert b"<img src=" in stickers.content and b"a.png" in stickers.content
    assert b"Thumbs up" in queries.content
    assert b"Thumbs up" in detail.content
