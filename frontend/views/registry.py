"""The campaign page's model-registry actions (staff): train a GSE on the latest snapshot
(queued on the gpu queue) and make a GSE the campaign's iteration-2 encoder."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from annotation.models import Campaign
from core.errors import ApplicationError
from encoder.gse.config import TrainConfig
from encoder.selectors import encoder_version_find
from encoder.training_services import encoder_activate_for_campaign, gse_train_start
from pairbuilder.selectors import snapshot_latest


def _back(campaign: Campaign) -> HttpResponse:
    return redirect(reverse("campaign", args=[campaign.name]) + "#models")


@staff_member_required
@require_POST
def campaign_gse_train(request: HttpRequest, name: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign, name=name)
    snapshot = snapshot_latest(campaign=campaign)
    if snapshot is None:
        messages.error(request, "No exported snapshot for this campaign yet.")
        return _back(campaign)
    try:  # the campaign's training parameters, as a training on export uses them
        config = TrainConfig.from_dict({**TrainConfig().to_dict(), **campaign.train_config})
        row = gse_train_start(snapshot=snapshot, config=config, actor=request.user)
    except ApplicationError as e:  # TrainConfigError, EncoderError, InputError
        messages.error(request, str(e))
    else:
        messages.success(request, f"GSE training {row.version} queued on snapshot "
                                  f"{snapshot.number}.")
    return _back(campaign)


@staff_member_required
@require_POST
def campaign_gse_activate(request: HttpRequest, name: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign, name=name)
    row = encoder_version_find(value=request.POST.get("encoder_version", ""))
    if row is None:
        messages.error(request, "No such encoder version.")
        return _back(campaign)
    try:
        encoder_activate_for_campaign(campaign=campaign, encoder_version=row,
                                      actor=request.user)
    except ApplicationError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, f"Iteration 2 will retrieve with {row.version}.")
    return _back(campaign)
