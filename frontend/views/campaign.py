"""The campaign page for staff: a dashboard (progress, pace and agreement over time, pairs
per rule, GSE against its baselines) over the tables it charts, and the pair-build and model
panels that the pair builder and the encoder app fill."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

import encoder.selectors
import pairbuilder.selectors
from annotation.models import Campaign
from annotation.stats import campaign_stats
from frontend.selectors.dashboard import campaign_dashboard


@staff_member_required
def campaign_detail(request: HttpRequest, name: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign, name=name)
    stats = campaign_stats(campaign=campaign)
    context = {"campaign": campaign, "stats": stats,
               # the charts read the figures the tables show: one computation of each
               "dashboard": campaign_dashboard(campaign=campaign, stats=stats)}
    # The panels' own keys; ours win on a clash so this page never loses its figures.
    context = {
        **pairbuilder.selectors.campaign_panel(campaign=campaign),
        **encoder.selectors.campaign_panel(campaign=campaign),
        **context,
    }
    return render(request, "frontend/campaign.html", context)
