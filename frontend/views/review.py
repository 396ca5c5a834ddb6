"""The review queue for curators: one extracted pair at a time, accepted or rejected by key."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import ensure_csrf_cookie

from pairbuilder.models import PairBuild
from pairbuilder.selectors import build_summary


@staff_member_required
@ensure_csrf_cookie  # the page's script reads the CSRF cookie for its POSTs to the API
def pair_review(request: HttpRequest, build_id: int) -> HttpResponse:
    """The page; pairs and decisions go through the pairbuilder JSON API."""
    build = get_object_or_404(PairBuild.objects.select_related("campaign"), pk=build_id)
    return render(request, "frontend/review.html", {
        "build": build, "campaign": build.campaign, "summary": build_summary(build)})
