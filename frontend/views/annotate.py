"""Annotator pages: the campaign picker and the annotation page of one campaign."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import ensure_csrf_cookie

from annotation.models import Campaign
from annotation.selectors import campaigns_for_user, user_is_annotator


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The campaign picker: every campaign with its task counts."""
    return render(request, "frontend/home.html", {
        "campaigns": campaigns_for_user(user=request.user),
        "is_annotator": user_is_annotator(user=request.user),
    })


@login_required
@ensure_csrf_cookie  # the page's script reads the CSRF cookie for its POSTs to the API
def annotate(request: HttpRequest, name: str) -> HttpResponse:
    """The annotation page; tasks, answers and progress go through the JSON API."""
    if not user_is_annotator(user=request.user):
        raise PermissionDenied("You are not in the annotators group; ask an admin to add you.")
    campaign = get_object_or_404(Campaign, name=name)
    return render(request, "frontend/annotate.html", {"campaign": campaign})
