"""The campaign page for staff: progress, annotators, expired leases, agreement, and the
pair-build and model panels that the pair builder and the encoder app fill."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

import encoder.selectors
import pairbuilder.selectors
from annotation.models import Campaign
from annotation.selectors import campaign_stats


@staff_member_required
def campaign_detail(request: HttpRequest, name: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign, name=name)
    context = {"campaign": campaign, "stats": campaign_stats(campaign=campaign)}
    # The panels' own keys; ours win on a clash so this page never loses its figures.
    context = {
        **pairbuilder.selectors.campaign_panel(campaign=campaign),
        **encoder.selectors.campaign_panel(campaign=campaign),
        **context,
    }
    return render(request, "frontend/campaign.html", context)
