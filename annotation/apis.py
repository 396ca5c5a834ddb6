"""REST API of the annotation app: next task, submit, skip, my progress, my answers, stats.

Views parse input, check access, call one service or selector and format the result. Session
auth (CSRF enforced by DRF) serves the annotator page; token auth serves scripts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission, IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from annotation.models import Annotation, Campaign
from annotation.selectors import (
    annotation_selected_ids,
    annotations_selected_ids,
    annotator_progress,
    campaign_stats,
    campaigns_for_user,
    sticker_file_url,
    user_is_annotator,
)
from annotation.services.annotations_io import annotation_lines
from annotation.services.assignment import (
    MAX_BIGINT,
    MAX_INTEGER,
    MAX_LIST,
    LeasedTask,
    task_next,
    task_skip,
    task_submit,
    task_submit_and_next,
)


class IsAnnotator(BasePermission):
    """Authenticated staff, or a member of the "annotators" group."""

    message = "You are not in the annotators group; ask an admin to add you."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return user_is_annotator(user=request.user)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class StickerOutSerializer(serializers.Serializer):
    sticker_id = serializers.CharField()
    url = serializers.CharField(help_text="URL of the original file, shown as it is")
    media_type = serializers.CharField(help_text="png, jpeg, gif, webp or webm")
    is_animated = serializers.BooleanField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()


class CandidateOutSerializer(StickerOutSerializer):
    rank = serializers.IntegerField()


class TaskOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    campaign = serializers.CharField()
    iteration = serializers.IntegerField()
    anchor = StickerOutSerializer()
    candidates = CandidateOutSerializer(many=True)
    lease_expires_at = serializers.DateTimeField()


class ProgressSerializer(serializers.Serializer):
    done_today = serializers.IntegerField()
    done_today_in_campaign = serializers.IntegerField()
    done_in_campaign = serializers.IntegerField()
    left_for_me = serializers.IntegerField()
    left_in_campaign = serializers.IntegerField()


class AnnotationOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    task = serializers.IntegerField()
    selected = serializers.ListField(child=serializers.CharField())
    duration_ms = serializers.IntegerField(allow_null=True)
    submission_id = serializers.CharField()
    created_at = serializers.DateTimeField()


class SubmittedOutSerializer(AnnotationOutSerializer):
    next = TaskOutSerializer(required=False, allow_null=True, help_text=(
        "with ?next=<campaign>: the next task leased to the caller (null: none left)"))


def _sticker_out(sticker: dict) -> dict:
    """A LeasedTask sticker dict in the StickerOutSerializer shape (``file`` becomes a URL)."""
    out = dict(sticker)
    out["url"] = sticker_file_url(out.pop("file"))
    return out


def _task_out(task: LeasedTask) -> dict:
    """The TaskOutSerializer shape, built directly: a serializer pass over 21 stickers would
    cost more CPU than the whole lease."""
    return {
        "id": task.id,
        "campaign": task.campaign,
        "iteration": task.iteration,
        "anchor": _sticker_out(task.anchor),
        "candidates": [_sticker_out(c) for c in task.candidates],
        "lease_expires_at": task.lease_expires_at,
    }


def _annotation_out(annotation: Annotation, selected_ids: list[str] | None = None) -> dict:
    if selected_ids is None:
        selected_ids = annotation_selected_ids(annotation=annotation)
    return {"id": annotation.pk, "task": annotation.task_id,
            "selected": selected_ids,
            "duration_ms": annotation.duration_ms, "submission_id": annotation.submission_id,
            "created_at": annotation.created_at}


CAMPAIGN_NAME_MAX = 200  # Campaign.name's column


class TaskIdsField(serializers.CharField):
    """Comma-separated task ids, each a PostgreSQL bigint (1..2**63-1), at most MAX_LIST:
    bounded here so a huge or long list is a 400 naming the field, never an overflow."""

    default_error_messages = {
        "ids": "comma-separated task ids between 1 and {max}",
        "many": "at most {count} task ids",
    }

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", MAX_LIST * 21)  # 19 digits, a comma, a space per id
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> list[int]:
        parts = [p.strip() for p in super().to_internal_value(data).split(",") if p.strip()]
        if len(parts) > MAX_LIST:
            self.fail("many", count=MAX_LIST)
        if not all(p.isascii() and p.isdigit() and 0 < int(p) <= MAX_BIGINT for p in parts):
            self.fail("ids", max=MAX_BIGINT)
        return [int(p) for p in parts]


class TaskNextQuerySerializer(serializers.Serializer):
    exclude = TaskIdsField(required=False, default=list, allow_blank=True, help_text=(
        "comma-separated task ids not to return: the task on screen, to fetch ahead"))


class SubmitQuerySerializer(TaskNextQuerySerializer):
    next = serializers.CharField(required=False, default="", allow_blank=True,
                                 max_length=CAMPAIGN_NAME_MAX, help_text=(
        "a campaign name: also lease the caller's next task there and return it under "
        "`next`, saving the next-task request"))


class MyAnnotationsQuerySerializer(serializers.Serializer):
    campaign = serializers.CharField(required=False, default="", allow_blank=True,
                                     max_length=CAMPAIGN_NAME_MAX,
                                     help_text="only answers in this campaign")


_BOUND_FIELDS: dict[type, tuple[serializers.Serializer, dict[str, serializers.Field]]] = {}


def _bound(serializer_class: type[serializers.Serializer]
           ) -> tuple[serializers.Serializer, dict[str, serializers.Field]]:
    """One instance of the serializer and its bound fields, made once per process.

    A Serializer instance deep-copies its declared fields, ~0.5 ms of CPU per request on the two
    hot paths (next task, submit) for the same checks; fields and ``validate`` keep no state
    between calls, so one instance serves every request and thread.
    """
    bound = _BOUND_FIELDS.get(serializer_class)
    if bound is None:
        instance = serializer_class()
        bound = _BOUND_FIELDS.setdefault(serializer_class, (instance, dict(instance.fields)))
    return bound


def _validated(serializer_class: type[serializers.Serializer], data: Any) -> dict:
    """``data`` checked as ``serializer_class(data=data).is_valid(raise_exception=True)``
    would check it (each field, then ``validate``; a 400 naming the field otherwise), without
    building a serializer per request."""
    instance, fields = _bound(serializer_class)
    if not isinstance(data, Mapping):
        raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [
            f"Invalid data. Expected a dictionary, but got {type(data).__name__}."]})
    values, errors = {}, {}
    for name, field in fields.items():
        try:
            values[name] = field.run_validation(field.get_value(data))
        except serializers.ValidationError as exc:
            errors[name] = exc.detail
    if errors:
        raise serializers.ValidationError(errors)
    try:
        return instance.validate(values)
    except serializers.ValidationError as exc:
        raise serializers.ValidationError(as_serializer_error(exc)) from exc


def _query(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    """The request's query parameters, validated by the serializer's fields (400 naming the
    parameter otherwise)."""
    return _validated(serializer_class, request.query_params)


def _task_id_checked(task_id: int) -> int:
    """A task id from the URL; 0 or one past a bigint names no task (404, not an overflow)."""
    if not 0 < task_id <= MAX_BIGINT:
        raise Http404(f"no task {task_id}")
    return task_id


class PingApi(APIView):
    """The trivial endpoint: the load benchmark's baseline for the framework's own cost."""

    @extend_schema(responses=inline_serializer("Ping", {"ok": serializers.BooleanField()}))
    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class CampaignListApi(APIView):
    permission_classes = [IsAuthenticated, IsAnnotator]

    @extend_schema(responses=inline_serializer("CampaignSummary", {
        "name": serializers.CharField(), "description": serializers.CharField(),
        "tasks_total": serializers.IntegerField(), "tasks_done": serializers.IntegerField(),
    }, many=True))
    def get(self, request: Request) -> Response:
        return Response(campaigns_for_user(user=request.user))


class TaskNextApi(APIView):
    """Leases the next task (or returns the one the caller holds); 204 when none is left.

    POST only: a lease is a change of state, so it is never made by a GET (which a prefetching
    browser, a crawler or a cross-site <img> may send, outside CSRF protection).
    """

    permission_classes = [IsAuthenticated, IsAnnotator]

    @extend_schema(
        request=None,
        parameters=[TaskNextQuerySerializer],
        responses={200: TaskOutSerializer, 204: OpenApiResponse(description="no task left")},
    )
    def post(self, request: Request, name: str) -> Response:
        exclude = _query(TaskNextQuerySerializer, request)["exclude"]
        # An unknown campaign (Campaign.DoesNotExist) is the handler's 404.
        task = task_next(annotator=request.user, campaign_name=name, exclude_task_ids=exclude)
        if task is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(_task_out(task))


class TaskSubmitApi(APIView):
    """Stores the caller's answer; a repeat returns the first answer with 200 instead of 201."""

    permission_classes = [IsAuthenticated, IsAnnotator]

    class InputSerializer(serializers.Serializer):
        selected = serializers.ListField(child=serializers.CharField(max_length=255),
                                         required=False, default=list, max_length=MAX_LIST)
        none = serializers.BooleanField(required=False, default=False,
                                        help_text="true: none of the candidates is similar")
        submission_id = serializers.CharField(max_length=64, required=False, default="",
                                              allow_blank=True)
        duration_ms = serializers.IntegerField(min_value=0, max_value=MAX_INTEGER,
                                               required=False, allow_null=True, default=None)

        def validate(self, data: dict) -> dict:
            if data["none"] and data["selected"]:
                raise serializers.ValidationError("none=true with a non-empty selection")
            if not data["none"] and not data["selected"]:
                raise serializers.ValidationError(
                    "select at least one candidate, or say none=true")
            return data

    @extend_schema(
        request=InputSerializer,
        parameters=[SubmitQuerySerializer],
        responses={201: SubmittedOutSerializer, 200: SubmittedOutSerializer,
                   409: ErrorSerializer})
    def post(self, request: Request, task_id: int) -> Response:
        data = _validated(self.InputSerializer, request.data)
        answer = {"annotator": request.user, "task_id": _task_id_checked(task_id),
                  "selected_ids": data["selected"], "submission_id": data["submission_id"],
                  "duration_ms": data["duration_ms"]}
        query = _query(SubmitQuerySerializer, request)
        next_in = query["next"]
        # Unknown task or campaign: the handler's 404; a refused answer (no lease, lease lost,
        # not a candidate): its ConflictError, 409 naming the field.
        if next_in:
            result, leased = task_submit_and_next(
                **answer, campaign_name=next_in, exclude_task_ids=query["exclude"])
        else:
            result, leased = task_submit(**answer), None
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        out = _annotation_out(result.annotation, result.selected_ids)
        if next_in:
            out["next"] = _task_out(leased) if leased is not None else None
        return Response(out, status=code)


class TaskSkipApi(APIView):
    """"I can't judge": frees the task for the others; counts for nothing."""

    permission_classes = [IsAuthenticated, IsAnnotator]

    @extend_schema(request=None, responses={200: inline_serializer("Skipped", {
        "task": serializers.IntegerField(), "skipped": serializers.BooleanField()}),
        409: ErrorSerializer})
    def post(self, request: Request, task_id: int) -> Response:
        task_skip(annotator=request.user, task_id=_task_id_checked(task_id))  # 404 / 409 as above
        return Response({"task": task_id, "skipped": True})


class ProgressApi(APIView):
    permission_classes = [IsAuthenticated, IsAnnotator]

    @extend_schema(responses=ProgressSerializer)
    def get(self, request: Request, name: str) -> Response:
        campaign = get_object_or_404(Campaign, name=name)
        return Response(annotator_progress(annotator=request.user, campaign=campaign))


class MyAnnotationListApi(APIView):
    """The caller's own answers (never anyone else's), newest first, at most 200."""

    permission_classes = [IsAuthenticated, IsAnnotator]

    @extend_schema(parameters=[MyAnnotationsQuerySerializer],
                   responses=AnnotationOutSerializer(many=True))
    def get(self, request: Request) -> Response:
        campaign = _query(MyAnnotationsQuerySerializer, request)["campaign"]
        mine = Annotation.objects.filter(annotator=request.user).order_by("-created_at", "-pk")
        if campaign:
            mine = mine.filter(task__campaign__name=campaign)
        page = list(mine[:200])
        selected = annotations_selected_ids(annotations=page)  # 2 queries, not one per answer
        return Response([_annotation_out(a, selected[a.pk]) for a in page])


class AnnotationDetailApi(APIView):
    """One answer: the caller's own, or any for staff; someone else's reads as 404."""

    permission_classes = [IsAuthenticated, IsAnnotator]

    @extend_schema(responses=AnnotationOutSerializer)
    def get(self, request: Request, annotation_id: int) -> Response:
        answers = Annotation.objects.all()
        if not request.user.is_staff:
            answers = answers.filter(annotator=request.user)
        return Response(_annotation_out(get_object_or_404(answers, pk=annotation_id)))


class CampaignStatsApi(APIView):
    """Admins only: progress per iteration and annotator, expired leases, agreement."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, name: str) -> Response:
        campaign = get_object_or_404(Campaign, name=name)
        return Response(campaign_stats(campaign=campaign))


class CampaignExportApi(APIView):
    """Admins only: every answer and skip as JSON lines, streamed while it is read.

    Streaming keeps memory flat and the first byte early however big the campaign is, so the
    download does not time out while a file is built (Label Studio #2663).
    """

    permission_classes = [IsAdminUser]

    @extend_schema(responses={(200, "application/x-ndjson"): OpenApiTypes.STR})
    def get(self, request: Request, name: str) -> StreamingHttpResponse:
        campaign = get_object_or_404(Campaign, name=name)
        response = StreamingHttpResponse(annotation_lines(campaign=campaign),
                                         content_type="application/x-ndjson")
        response["Content-Disposition"] = f'attachment; filename="{campaign.pk}-annotations.jsonl"'
        return response
