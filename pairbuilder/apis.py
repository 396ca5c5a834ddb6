"""REST API of the pair builder (admin only): builds, review decisions, snapshots.

Views parse input, check access, call one service or selector and format the result.
"""

from __future__ import annotations

from pathlib import Path

from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import Campaign
from pairbuilder import selectors, services
from pairbuilder.models import Pair, PairBuild, Snapshot

# Bounds of what a request may carry, from the columns and libraries the values reach.
MAX_BIGINT = 2**63 - 1  # PostgreSQL bigint: ids, OFFSET
MAX_INTEGER = 2**31 - 1  # PostgreSQL integer: counts and thresholds stored in integer columns
MAX_SEED = 2**32 - 1  # numpy's seeds; the split is reproducible only for a seed it takes


class BuildOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField(help_text="pending, running, done or failed")
    progress = serializers.FloatField(help_text="0..1")
    params = serializers.JSONField(help_text="the four thresholds and the text model")
    counts = serializers.JSONField(help_text="pairs per rule, rejections per negative condition")
    annotation_count = serializers.IntegerField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    imported = serializers.BooleanField()


class SnapshotOutSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    build_id = serializers.IntegerField()
    status = serializers.CharField()
    params = serializers.JSONField(help_text="include_unreviewed, ratios, seed, split method")
    splits = serializers.JSONField(help_text="per split: pairs, stickers, positive, negative")
    dropped = serializers.IntegerField(allow_null=True, help_text="cross-split pairs dropped")
    error = serializers.CharField()
    created_at = serializers.DateTimeField()


class ReviewOutSerializer(serializers.Serializer):
    pair_id = serializers.IntegerField()
    decision = serializers.CharField()
    reviewer = serializers.CharField()
    decided_at = serializers.DateTimeField()


class BuildStartSerializer(serializers.Serializer):
    min_positive = serializers.IntegerField(required=False, min_value=1, max_value=MAX_INTEGER)
    min_displayed = serializers.IntegerField(required=False, min_value=1, max_value=MAX_INTEGER)
    max_query_overlap = serializers.IntegerField(required=False, min_value=1,
                                                 max_value=MAX_INTEGER)
    max_text_cosine = serializers.FloatField(required=False, min_value=-1.0, max_value=1.0)


class PairListQuerySerializer(serializers.Serializer):
    offset = serializers.IntegerField(required=False, default=0, min_value=0,
                                      max_value=MAX_BIGINT, help_text="pairs to skip")
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=500,
                                     help_text="page size")
    label = serializers.ChoiceField(choices=[0, 1], required=False, allow_blank=True,
                                    default="", help_text="only this label: 1 positive, "
                                                          "0 negative (default: both)")
    unreviewed = serializers.ChoiceField(choices=["", "0", "1"], required=False, default="",
                                         help_text="1: only pairs with no decision for their "
                                                   "label")


class PairBuildListApi(APIView):
    """GET: the campaign's builds; POST: start a build (runs on the workers)."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses=inline_serializer(
        "PairBuildList", {"builds": BuildOutSerializer(many=True)}))
    def get(self, request: Request, name: str) -> Response:
        campaign = get_object_or_404(Campaign, name=name)
        return Response({"builds": [selectors.build_summary(b) for b in
                                    campaign.pair_builds.order_by("-id")[:50]]})

    @extend_schema(request=BuildStartSerializer, responses={202: BuildOutSerializer})
    def post(self, request: Request, name: str) -> Response:
        campaign = get_object_or_404(Campaign, name=name)
        params = BuildStartSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        # A refused build (InputError) rolls back and is the exception handler's 400.
        with transaction.atomic():
            build = services.pair_build_start(campaign=campaign,
                                              params=dict(params.validated_data))
        return Response(selectors.build_summary(build), status=status.HTTP_202_ACCEPTED)


class PairBuildDetailApi(APIView):
    """GET: one build's status, progress and counts."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses=BuildOutSerializer)
    def get(self, request: Request, build_id: int) -> Response:
        return Response(selectors.build_summary(get_object_or_404(PairBuild, pk=build_id)))


class PairBuildResumeApi(APIView):
    """POST: run an interrupted or failed build again."""

    permission_classes = [IsAdminUser]

    @extend_schema(request=None, responses={202: BuildOutSerializer})
    def post(self, request: Request, build_id: int) -> Response:
        build = get_object_or_404(PairBuild, pk=build_id)
        with transaction.atomic():
            services.pair_build_resume(build=build)
        return Response(selectors.build_summary(build), status=status.HTTP_202_ACCEPTED)


class PairListApi(APIView):
    """GET: a page of a build's pairs with evidence and decisions (the review queue)."""

    permission_classes = [IsAdminUser]

    @extend_schema(parameters=[PairListQuerySerializer], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, build_id: int) -> Response:
        build = get_object_or_404(PairBuild, pk=build_id)
        query = PairListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        return Response(selectors.review_queue(
            build=build, only_unreviewed=q["unreviewed"] == "1",
            label=None if q["label"] == "" else q["label"], offset=q["offset"],
            limit=q["limit"]))


class ReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["accept", "reject"])


class PairReviewApi(APIView):
    """POST: accept or reject a pair; recorded with the reviewer and the time."""

    permission_classes = [IsAdminUser]

    @extend_schema(request=ReviewSerializer, responses=ReviewOutSerializer)
    def post(self, request: Request, pair_id: int) -> Response:
        pair = get_object_or_404(Pair.objects.select_related("build__campaign"), pk=pair_id)
        body = ReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        review = services.pair_review_decide(
            campaign=pair.build.campaign, pair=pair, decision=body.validated_data["decision"],
            reviewer=request.user)
        return Response({"pair_id": pair.id, "decision": review.decision,
                         "reviewer": request.user.get_username(),
                         "decided_at": review.decided_at.isoformat()})


class SnapshotSerializer(serializers.Serializer):
    build_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_BIGINT)
    include_unreviewed = serializers.BooleanField(required=False, allow_null=True, default=None)
    ratios = serializers.ListField(child=serializers.FloatField(min_value=0, max_value=1e6),
                                   min_length=3, max_length=3, required=False,
                                   default=[0.8, 0.1, 0.1],
                                   help_text="train, val, test shares (scaled to sum 1)")
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=MAX_SEED)

    def validate_ratios(self, value: list[float]) -> list[float]:
        if sum(value) <= 0:
            raise serializers.ValidationError("at least one ratio above 0")
        return value


class SnapshotListApi(APIView):
    """GET: the campaign's snapshots; POST: export one (written on the workers)."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses=inline_serializer(
        "SnapshotList", {"snapshots": SnapshotOutSerializer(many=True)}))
    def get(self, request: Request, name: str) -> Response:
        campaign = get_object_or_404(Campaign, name=name)
        return Response({"snapshots": [selectors.snapshot_summary(s) for s in
                                       selectors.snapshots_without_manifest(campaign)]})

    @extend_schema(request=SnapshotSerializer, responses={202: SnapshotOutSerializer})
    def post(self, request: Request, name: str) -> Response:
        campaign = get_object_or_404(Campaign, name=name)
        body = SnapshotSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        build = None
        if data.get("build_id"):
            build = get_object_or_404(PairBuild, pk=data["build_id"], campaign=campaign)
        with transaction.atomic():  # a refused snapshot: rolled back, the handler's 400
            snapshot = services.snapshot_start(
                campaign=campaign, build=build, include_unreviewed=data["include_unreviewed"],
                ratios=tuple(data["ratios"]), seed=data["seed"], actor=request.user)
        return Response(selectors.snapshot_summary(snapshot), status=status.HTTP_202_ACCEPTED)


class SnapshotDownloadApi(APIView):
    """GET: the snapshot's zip archive."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request: Request, number: int) -> FileResponse:
        snapshot = get_object_or_404(Snapshot, number=number)
        if snapshot.status != Snapshot.Status.DONE or not Path(snapshot.archive).is_file():
            raise Http404("snapshot not written yet")
        return FileResponse(open(snapshot.archive, "rb"), as_attachment=True,  # noqa: SIM115
                            filename=Path(snapshot.archive).name,
                            content_type="application/zip")
