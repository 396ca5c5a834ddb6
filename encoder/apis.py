"""REST API of GSE: similarity of two stickers, most similar stickers, and (admins) training,
its progress and activation for a campaign. Views parse, check access, call one service.

No torch here or in what these views import: similarity and most-similar read stored
embeddings (a sticker without one under the asked model is a 409 naming it), and a similarity
with an uploaded file is a job for a gpu worker: the request waits for it at most
SIMILARITY_WAIT_S, then answers 202 with the job's poll URL and Retry-After.
"""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.apis import IsAnnotator
from annotation.errors import InputError
from annotation.models import Campaign, Sticker
from encoder.gse.config import BATCH_SIZE_MAX, EPOCHS_MAX, TrainConfig
from encoder.models import EncoderVersion, SimilarityJob
from encoder.selectors import encoder_default_gse, encoder_version_find, encoder_version_status
from encoder.similarity_services import (
    similarity_job_start,
    similarity_job_status,
    similarity_job_wait,
    sticker_similarity,
    stickers_most_similar,
)
from encoder.training_services import (
    encoder_activate_for_campaign,
    gse_train_start,
    snapshot_latest,
)
from pairbuilder.models import Snapshot

MAX_INTEGER = 2**31 - 1  # PostgreSQL integer: snapshot numbers
MAX_SEED = 2**32 - 1  # numpy's seeds (torch takes more; the pair shuffle uses numpy)
VERSION_MAX = 128  # EncoderVersion.version's column

SimilarityOut = inline_serializer("Similarity", {
    "cosine": serializers.FloatField(), "similar": serializers.BooleanField(),
    "threshold": serializers.FloatField(), "model": serializers.CharField(),
})
SimilarityJobOut = inline_serializer("SimilarityJob", {
    "id": serializers.IntegerField(),
    "status": serializers.ChoiceField(choices=SimilarityJob.Status.choices),
    "poll": serializers.CharField(help_text="GET this URL for the answer"),
    "error": serializers.CharField(),
    "model": serializers.CharField(),
    "cosine": serializers.FloatField(required=False, help_text="once done"),
    "similar": serializers.BooleanField(required=False, help_text="once done"),
    "threshold": serializers.FloatField(required=False, help_text="once done"),
})
Message = inline_serializer("Message", {"detail": serializers.CharField()})
RETRY_AFTER_S = 1  # what a 202 tells the client to wait before polling


def _bad(message: str, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"detail": message}, status=code)


def _model(value: str | None) -> EncoderVersion:
    """The named version, else the newest finished GSE; InputError when there is none."""
    row = encoder_version_find(value=value) if value else encoder_default_gse()
    if row is None:
        raise InputError("model", f"no encoder version {value!r}" if value else
                         "no trained GSE yet: run manage.py train_gse")
    return row


class StickerUploadField(serializers.FileField):
    """An uploaded sticker, refused by its size before a byte of it is read: the service reads
    the whole file into memory to probe it. (config.request_limits already refused any body
    larger than two such files, so nothing bigger reached the disk either.)"""

    def to_internal_value(self, data):
        upload = super().to_internal_value(data)
        if upload.size > settings.STICKER_MAX_BYTES:
            raise serializers.ValidationError(
                f"file is {upload.size:,} bytes, over the limit of {settings.STICKER_MAX_BYTES:,}")
        return upload


class SimilarityIn(serializers.Serializer):
    model = serializers.CharField(required=False, max_length=VERSION_MAX,
                                  help_text="version id or string; default: newest GSE")
    sticker_a = serializers.CharField(required=False, max_length=255,
                                      help_text="sticker_id in the library")
    sticker_b = serializers.CharField(required=False, max_length=255)
    file_a = StickerUploadField(required=False, help_text="an uploaded sticker file")
    file_b = StickerUploadField(required=False)


class SimilarityApi(APIView):
    """Cosine of two stickers (ids or uploads) under a GSE, and yes/no at its threshold.
    Annotators and staff only, like the rest of the annotation API.

    Two library stickers: answered from their stored embeddings (409 when one has none yet).
    An uploaded file: a job for a gpu worker; the request waits for it at most
    SIMILARITY_WAIT_S (200 with the answer), else 202 with the job's ``poll`` URL and
    Retry-After, never a 5xx for a busy or absent worker.
    """

    permission_classes = [IsAuthenticated, IsAnnotator]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(request=SimilarityIn, responses={
        200: SimilarityOut, 202: SimilarityJobOut, 400: Message,
        409: OpenApiResponse(Message, description="a sticker has no stored embedding under "
                                                  "the model yet")})
    def post(self, request: Request) -> Response:
        data = SimilarityIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        # InputError / EncoderError: the exception handler's 400; EmbeddingMissing: its 409.
        items = [self._item(v, side) for side in ("a", "b")]
        model = _model(v.get("model"))
        if all(isinstance(item, Sticker) for item in items):
            return Response(sticker_similarity(encoder_version=model, a=items[0], b=items[1]))
        job = similarity_job_start(encoder_version=model, a=items[0], b=items[1],
                                   requested_by=request.user)
        return _job_answer(request, similarity_job_wait(job=job,
                                                        timeout_s=settings.SIMILARITY_WAIT_S))

    @staticmethod
    def _item(v: dict, side: str):
        if v.get(f"file_{side}") is not None:
            return v[f"file_{side}"]
        sid = v.get(f"sticker_{side}")
        if not sid:
            raise InputError(f"sticker_{side}", f"give sticker_{side} or file_{side}")
        sticker = Sticker.objects.filter(sticker_id=sid).first()
        if sticker is None:
            raise InputError(f"sticker_{side}", f"no sticker {sid!r} in the library")
        return sticker


def _job_answer(request: Request, job: SimilarityJob) -> Response:
    """200 with the answer of a done job, 400 with the message of a failed one, else 202 with
    the poll URL and Retry-After."""
    out = similarity_job_status(job=job)
    if job.status == SimilarityJob.Status.DONE:
        return Response({k: out[k] for k in ("cosine", "similar", "threshold", "model")})
    if job.status == SimilarityJob.Status.FAILED:
        return _bad(job.error)
    out["poll"] = request.build_absolute_uri(reverse("api-similarity-job", args=[job.id]))
    return Response(out, status=status.HTTP_202_ACCEPTED,
                    headers={"Retry-After": str(RETRY_AFTER_S)})


class SimilarityJobApi(APIView):
    """The state of a similarity job with an uploaded file: pending, done with the answer, or
    failed with why. Only the annotator who asked, or staff, can read it."""

    permission_classes = [IsAuthenticated, IsAnnotator]

    @extend_schema(responses={200: SimilarityJobOut, 404: Message})
    def get(self, request: Request, pk: int) -> Response:
        rows = SimilarityJob.objects.select_related("encoder_version")
        if not request.user.is_staff:
            rows = rows.filter(requested_by=request.user)
        job = get_object_or_404(rows, pk=pk)
        out = similarity_job_status(job=job)
        out["poll"] = request.build_absolute_uri(reverse("api-similarity-job", args=[job.id]))
        return Response(out)


class MostSimilarQuery(serializers.Serializer):
    k = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100,
                                 help_text="how many stickers")
    model = serializers.CharField(required=False, default="", allow_blank=True,
                                  max_length=VERSION_MAX,
                                  help_text="version id or string; default: newest GSE")


class MostSimilarApi(APIView):
    """The ``k`` library stickers nearest to one sticker under a GSE (annotators and staff)."""

    permission_classes = [IsAuthenticated, IsAnnotator]

    @extend_schema(parameters=[MostSimilarQuery], responses={
        200: OpenApiTypes.OBJECT, 400: Message,
        409: OpenApiResponse(Message, description="the sticker has no stored embedding under "
                                                  "the model yet")})
    def get(self, request: Request, sticker_id: str) -> Response:
        sticker = get_object_or_404(Sticker, sticker_id=sticker_id)
        query = MostSimilarQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        row = _model(query.validated_data["model"])  # 400 / 409 from the exception handler
        results = stickers_most_similar(encoder_version=row, sticker=sticker,
                                        k=query.validated_data["k"])
        return Response({"model": row.version, "sticker_id": sticker.sticker_id,
                         "threshold": row.threshold, "results": results})


class TrainIn(serializers.Serializer):
    """Every knob bounded here, with the same bounds as TrainConfig's own checks
    (TrainConfigError), so a bad value is refused before anything is registered or queued."""

    snapshot = serializers.CharField(default="latest", max_length=16,
                                     help_text="number or 'latest'")
    campaign = serializers.CharField(required=False, max_length=200, help_text=(
        "with snapshot 'latest': whose latest snapshot (needed once several campaigns have "
        "exported snapshots)"))
    base = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
    pretrained = serializers.CharField(required=False, allow_blank=True, allow_null=True,
                                       default=None, max_length=500)
    epochs = serializers.IntegerField(required=False, min_value=1, max_value=EPOCHS_MAX)
    lr = serializers.FloatField(required=False, min_value=0, max_value=1)
    batch_size = serializers.IntegerField(required=False, min_value=1,
                                          max_value=BATCH_SIZE_MAX)
    image_text_weight = serializers.FloatField(required=False, min_value=0, max_value=1000)
    pair_weight = serializers.FloatField(required=False, min_value=0, max_value=1000)
    seed = serializers.IntegerField(required=False, min_value=0, max_value=MAX_SEED)

    def validate_snapshot(self, value: str) -> str:
        if value != "latest" and not (value.isascii() and value.isdigit()
                                      and int(value) <= MAX_INTEGER):
            raise serializers.ValidationError("a snapshot number or 'latest'")
        return value

    def validate(self, data: dict) -> dict:
        if data.get("image_text_weight", 1.0) == 0 and data.get("pair_weight", 1.0) == 0:
            raise serializers.ValidationError(
                {"pair_weight": "image_text_weight and pair_weight are both 0: nothing to train"})
        return data


class EncoderTrainApi(APIView):
    """Admins: queue a GSE training on the gpu queue; poll EncoderVersionApi for progress."""

    permission_classes = [IsAdminUser]

    @extend_schema(request=TrainIn, responses={202: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = TrainIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        ref, campaign_name = v.pop("snapshot"), v.pop("campaign", None)
        campaign = get_object_or_404(Campaign, name=campaign_name) if campaign_name else None
        snapshot = (snapshot_latest(campaign=campaign) if ref == "latest"
                    else Snapshot.objects.filter(number=int(ref)).first())
        if snapshot is None:
            raise InputError("snapshot", f"no snapshot {ref}")
        base, pretrained = v.pop("base"), v.pop("pretrained")
        # a refused start (InputError, EncoderError): the exception handler's 400
        row = gse_train_start(snapshot=snapshot, base_model=base, pretrained=pretrained,
                              config=TrainConfig(**v), actor=request.user)
        return Response(encoder_version_status(encoder_version=row),
                        status=status.HTTP_202_ACCEPTED)


class EncoderVersionApi(APIView):
    """Admins: one version's status, progress (0..1) and metrics."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pk: int) -> Response:
        row = get_object_or_404(EncoderVersion.objects.select_related("snapshot"), pk=pk)
        return Response(encoder_version_status(encoder_version=row))


class ActivateIn(serializers.Serializer):
    encoder_version = serializers.CharField(max_length=VERSION_MAX,
                                            help_text="version id or string")


class CampaignEncoderActivateApi(APIView):
    """Admins: make a finished GSE the campaign's iteration-2 encoder."""

    permission_classes = [IsAdminUser]

    @extend_schema(request=ActivateIn, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, name: str) -> Response:
        campaign = get_object_or_404(Campaign, name=name)
        body = ActivateIn(data=request.data)
        body.is_valid(raise_exception=True)
        row = encoder_version_find(value=body.validated_data["encoder_version"])
        if row is None:
            return _bad("encoder_version: no such encoder version")
        # a model that is not finished: ConflictError, the exception handler's 409
        encoder_activate_for_campaign(campaign=campaign, encoder_version=row, actor=request.user)
        return Response({"campaign": campaign.name,
                         "iteration2_source": campaign.iteration2_source,
                         "iteration2_encoder_version": campaign.iteration2_encoder_version})
