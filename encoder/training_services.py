"""GSE training and evaluation: train and register a GSE on a snapshot, evaluate any encoder
on Triple-S pair files, make a GSE the campaign's iteration-2 encoder.

The training itself is ``encoder.gse`` (no Django); these services resolve stickers to their
stills and queries, own the EncoderVersion rows and their progress. ``encoder.gse``'s torch
modules are imported inside the functions that train or evaluate (a worker, a command): the
web processes import this module to start a training and to activate a model.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from annotation.errors import ConflictError, InputError
from annotation.models import Campaign, Query, Sticker
from audit.models import AuditEvent
from audit.services import audit_record
from core.errors import ApplicationError
from encoder.embedding_services import encoder_spec_for_version, encoder_spec_from_settings
from encoder.gse.config import TrainConfig
from encoder.gse.scorable import missing_class_reason
from encoder.models import EncoderVersion
from encoder.spec import EncoderSpec
from pairbuilder.models import Snapshot

if TYPE_CHECKING:
    from encoder.gse.data import ImageResolver
    from encoder.gse.model import GseModel

logger = logging.getLogger(__name__)

ProgressFn = Callable[[str, float, str], None]  # (stage, fraction of the stage, detail)
# Where each stage sits in EncoderVersion.progress (0..1): training is most of the time.
STAGE_SPAN = {"base-eval": (0.0, 0.05), "train": (0.05, 0.9), "gse-eval": (0.9, 0.97),
              "report": (0.97, 1.0)}
PROGRESS_WRITE_EVERY_S = 2.0  # at most one progress UPDATE per 2 s per run


# ---------------------------------------------------------------- stickers -> stills, queries


def _still_path(sticker: Sticker) -> Path | None:
    try:
        return Path(sticker.still.path) if sticker.still else None
    except NotImplementedError:  # remote storage: fall back to the snapshot's files
        return None


def library_resolver(sticker_ids: Sequence[str], *folders: str | Path) -> ImageResolver:
    """Sticker id -> its still in the library, else ``<folder>/<id>`` (a snapshot's files).

    The library's still comes first: a snapshot's ``stickers/`` keeps original files, and a
    webm original can't be read as an image.
    """
    from encoder.gse.data import folder_resolver

    stills = {s.sticker_id: _still_path(s)
              for s in Sticker.objects.filter(sticker_id__in=list(sticker_ids)).only(
                  "sticker_id", "still")}
    files = folder_resolver(*folders)

    def resolve(sticker_id: str) -> Path | None:
        path = stills.get(sticker_id)
        return path if path is not None and path.is_file() else files(sticker_id)

    return resolve


def library_queries(sticker_ids: Sequence[str]) -> dict[str, list[str]]:
    """The query texts of each sticker in the library."""
    out: dict[str, list[str]] = {}
    rows = Query.objects.filter(sticker__sticker_id__in=list(sticker_ids)).order_by("id")
    for sid, text in rows.values_list("sticker__sticker_id", "text"):
        out.setdefault(sid, []).append(text)
    return out


def _snapshot_folder(snapshot: Snapshot) -> Path:
    if snapshot.status != Snapshot.Status.DONE or not snapshot.path:
        raise InputError(f"snapshot {snapshot.number}", f"is {snapshot.status}, not exported")
    return Path(snapshot.path)


def snapshot_require_scorable(snapshot: Snapshot) -> None:
    """Refuses, before anything is queued, a snapshot whose validation or test split lacks a
    class (from the manifest's counts): training on it could only end in a meaningless score."""
    splits = (snapshot.manifest or {}).get("splits", {})
    for key, name in (("val", "validation"), ("test", "test")):
        counts = splits.get(key)
        if counts is None:
            continue
        reason = missing_class_reason([1] * counts["positive"] + [0] * counts["negative"])
        if reason is not None:
            raise InputError(f"snapshot {snapshot.number}: {name} split", reason)


def snapshot_latest(*, campaign: Campaign | None = None) -> Snapshot:
    """"latest" as the page's Train button, the API and ``train_gse`` all mean it: the
    campaign's newest exported snapshot (``pairbuilder.selectors.snapshot_latest``). Without a
    campaign it is only unambiguous while one campaign has exported snapshots."""
    from pairbuilder.selectors import snapshot_latest as campaign_snapshot_latest

    if campaign is None:
        names = list(Snapshot.objects.filter(status=Snapshot.Status.DONE)
                     .values_list("campaign__name", flat=True).distinct()[:2])
        if len(names) > 1:
            raise InputError("campaign", "snapshots of several campaigns exist: name the "
                             "campaign whose latest snapshot to train on")
        campaign = Campaign.objects.filter(name=names[0]).first() if names else None
    row = campaign_snapshot_latest(campaign=campaign) if campaign is not None else None
    if row is None:
        raise InputError("snapshot latest", "no exported snapshot yet: export one first")
    return row


# ---------------------------------------------------------------- training


def _progress_writer(row: EncoderVersion, also: ProgressFn | None) -> ProgressFn:
    last = [0.0]

    def progress(stage: str, fraction: float, detail: str) -> None:
        lo, hi = STAGE_SPAN.get(stage, (0.0, 1.0))
        value = lo + (hi - lo) * min(max(fraction, 0.0), 1.0)
        now = time.monotonic()
        if now - last[0] >= PROGRESS_WRITE_EVERY_S or fraction in (0.0, 1.0):
            last[0] = now
            EncoderVersion.objects.filter(pk=row.pk).update(progress=value)
        if also:
            also(stage, fraction, detail)

    return progress


@transaction.atomic
def gse_train_start(
    *, snapshot: Snapshot, base_model: str = "", pretrained: str | None = None,
    config: TrainConfig | None = None, actor: AbstractBaseUser | None = None,
) -> EncoderVersion:
    """Registers a pending GSE run and queues it on the gpu queue once committed."""
    from encoder.tasks import GPU_QUEUE, gse_train_task

    _snapshot_folder(snapshot)
    snapshot_require_scorable(snapshot)
    config = config or TrainConfig()
    base = encoder_spec_from_settings(model=base_model or None, pretrained=pretrained)
    row = EncoderVersion.objects.create(
        version=f"gse-{snapshot.number}-{uuid.uuid4().hex[:12]}", kind=EncoderVersion.Kind.GSE,
        model_name=base.model, pretrained=base.pretrained, snapshot=snapshot,
        train_config=config.to_dict(), status=EncoderVersion.Status.PENDING, progress=0.0,
    )
    audit_record(action=AuditEvent.Action.TRAINING_START, actor=actor, campaign=snapshot.campaign,
                 target=f"{row.version} on snapshot {snapshot.number}",
                 details={"version": row.version, "snapshot": snapshot.number,
                          "base_model": base.model, "pretrained": base.pretrained,
                          "train_config": row.train_config})
    # The gpu queue named here, not via CELERY_TASK_ROUTES, so the route needs no settings line.
    transaction.on_commit(lambda: gse_train_task.apply_async(
        kwargs={"encoder_version_id": row.id}, queue=GPU_QUEUE))
    return row


def gse_train_on_export(*, snapshot: Snapshot) -> EncoderVersion | None:
    """Queues the GSE training a finished export asks for (``Campaign.train_on_export``, with
    the campaign's training parameters); None when it is off or the snapshot cannot be scored
    (the manifest's warnings say why; a training would only report a meaningless score)."""
    campaign = snapshot.campaign
    if not (settings.GSE_TRAIN_ON_EXPORT and campaign.train_on_export):
        return None
    if EncoderVersion.objects.filter(snapshot=snapshot, kind=EncoderVersion.Kind.GSE).exists():
        return None  # a redelivered export task: its training is already registered
    try:
        config = TrainConfig.from_dict({**TrainConfig().to_dict(), **campaign.train_config})
        return gse_train_start(snapshot=snapshot, config=config)
    except ApplicationError as exc:  # TrainConfigError from the stored parameters too
        logger.warning("snapshot %s of %s is not trained on export: %s", snapshot.number,
                       campaign.name, exc)
        return None


def _base_or_demo_fallback(base: EncoderSpec) -> tuple[EncoderSpec, str]:
    """``base``, or with GSE_BASE_FALLBACK="demo" and weights that cannot be loaded (no hub),
    the encoder the demo embeds with, and the note that says so (logged as one WARNING)."""
    if (settings.GSE_BASE_FALLBACK != "demo" or not base.pretrained
            or base != encoder_spec_from_settings()):  # a base asked for by name: no swap
        return base, ""
    from encoder.demo import demo_encoder_load

    spec, _encoder, note = demo_encoder_load()  # tries ``base`` first: the settings' spec
    if spec.model == base.model and spec.pretrained == base.pretrained:
        return base, ""
    return spec, f"GSE base: {note}"


def gse_train(
    *, snapshot: Snapshot, base_model: str = "", pretrained: str | None = None,
    config: TrainConfig | None = None, progress: ProgressFn | None = None,
    encoder_version: EncoderVersion | None = None,
) -> EncoderVersion:
    """Trains a GSE on ``snapshot`` and evaluates it beside its untrained base model.

    ``base_model``/``pretrained`` default to GSE_MODEL/GSE_PRETRAINED. Writes the checkpoint,
    configs and report under ``GSE_MODELS_DIR/<version>/`` and registers (or completes,
    when ``encoder_version`` is a pending row from :func:`gse_train_start`) the version.
    A failure marks the row failed with the message, then re-raises.
    """
    from encoder.gse.data import read_queries_csv, snapshot_pairs_load
    from encoder.gse.pipeline import gse_run

    config = config or TrainConfig()
    folder = _snapshot_folder(snapshot)
    base = encoder_spec_from_settings(model=base_model or None, pretrained=pretrained)
    base, fallback_note = _base_or_demo_fallback(base)
    row = encoder_version or EncoderVersion(
        version=f"gse-{snapshot.number}-{uuid.uuid4().hex[:12]}", kind=EncoderVersion.Kind.GSE,
    )
    row.model_name, row.pretrained, row.snapshot = base.model, base.pretrained, snapshot
    row.train_config, row.status, row.progress, row.error = (
        {**config.to_dict(), **({"note": fallback_note} if fallback_note else {})},
        EncoderVersion.Status.RUNNING, 0.0, "")
    row.save()
    out_dir = Path(settings.GSE_MODELS_DIR) / row.version
    try:
        pairs = snapshot_pairs_load(folder)
        ids = sorted({s for split in (pairs.train, pairs.val, pairs.test)
                      for p in split for s in (p.sticker_id, p.sticker_id_2)})
        queries = library_queries(ids)
        if (folder / "queries.csv").is_file():
            for sid, texts in read_queries_csv(folder / "queries.csv").items():
                queries.setdefault(sid, texts)
        result = gse_run(
            snapshot=pairs, resolver=library_resolver(ids, folder / "stickers"),
            queries=queries, base_model=base.model, pretrained=base.pretrained, config=config,
            out_dir=out_dir, progress=_progress_writer(row, progress),
            title=f"GSE {row.version} on snapshot {snapshot.number}",
            info={"version": row.version, "snapshot": snapshot.number, "snapshot_path": folder},
        )
    except Exception as e:  # any failure: the row must not stay "running" forever
        EncoderVersion.objects.filter(pk=row.pk).update(
            status=EncoderVersion.Status.FAILED, error=str(e)[:2000])
        raise
    row.model_name = result.model_name  # the OpenCLIP name; model_config makes it loadable
    row.model_config = result.model_config
    row.checkpoint = str(result.checkpoint)
    row.metrics = {**result.metrics(), "base_version": result.base_version,
                   "losses_first_last": [result.losses[0], result.losses[-1]],
                   "seconds": round(result.seconds, 1)}
    row.threshold = result.gse.threshold
    row.report_dir = str(out_dir / "report")
    row.status, row.progress = EncoderVersion.Status.DONE, 1.0
    row.save()
    return row


# ---------------------------------------------------------------- evaluation


def gse_model_for(model: EncoderVersion | str, base_model: str, pretrained: str | None) -> GseModel:
    """A registered version from its checkpoint, or ``"base"``: the configured base model."""
    from encoder.gse.model import gse_model_load

    if isinstance(model, EncoderVersion):
        spec = encoder_spec_for_version(model)
        return gse_model_load(spec.model, spec.pretrained, spec.device, spec.model_config)
    base = encoder_spec_from_settings(model=base_model or None, pretrained=pretrained)
    return gse_model_load(base.model, base.pretrained, base.device)


def pairs_resolver(ids: Sequence[str], images_dir: str | Path) -> ImageResolver:
    """A pair file's stickers: ``images_dir/<id>`` first, else the library's still."""
    from encoder.gse.data import folder_resolver

    in_folder, in_library = folder_resolver(images_dir), library_resolver(ids)
    return lambda sid: in_folder(sid) or in_library(sid)


def gse_evaluate(
    *, model: EncoderVersion | str, pairs_csv: str | Path, images_dir: str | Path,
    val_csv: str | Path | None = None, base_model: str = "", pretrained: str | None = None,
    report_dir: str | Path | None = None, baselines: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Evaluates a registered version, ``"base"`` or a surface baseline by name on any
    Triple-S pair file, beside the surface ``baselines``, with paired bootstrap intervals.

    The threshold is tuned on ``val_csv`` when given, else the version's own tuned threshold,
    else tuned on the evaluated pairs themselves (flagged optimistic in the result; the
    baselines then tune on the test pairs too, so the comparison stays even).
    ``baselines`` defaults to every surface baseline.
    """
    from encoder.gse.baselines import SURFACE_BASELINES
    from encoder.gse.data import read_pairs_csv
    from encoder.gse.evaluate import evaluate_baselines, evaluate_model
    from encoder.gse.pipeline import baseline_notes
    from encoder.gse.report import compare, evaluation_summary, write_report

    test = read_pairs_csv(pairs_csv, split="test")
    val = read_pairs_csv(val_csv, split="val") if val_csv else None
    ids = sorted({s for split in (test, val or []) for p in split
                  for s in (p.sticker_id, p.sticker_id_2)})
    resolver = pairs_resolver(ids, images_dir)
    if isinstance(model, str) and model in SURFACE_BASELINES:
        name = model
        evaluations = evaluate_baselines([model], test=test, val=val, resolver=resolver)
    else:
        name = model.version if isinstance(model, EncoderVersion) else "base"
        threshold = model.threshold if isinstance(model, EncoderVersion) and not val else None
        evaluations = {name: evaluate_model(gse_model_for(model, base_model, pretrained),
                                            test=test, val=val, threshold=threshold,
                                            resolver=resolver)}
    baselines = tuple(SURFACE_BASELINES) if baselines is None else baselines
    others = [b for b in baselines if b != name]
    evaluations.update(evaluate_baselines(others, test=test, val=val, resolver=resolver))
    bootstrap = compare(evaluations, reference=name) if len(evaluations) > 1 else None
    summary = {"model": name, **evaluation_summary(evaluations[name]),
               "baselines": {k: evaluation_summary(v) for k, v in evaluations.items()
                             if k != name}}
    if bootstrap is not None:
        summary["bootstrap"], summary["verdict"] = bootstrap, bootstrap["verdict"]
    if report_dir:
        summary["report_files"] = write_report(
            report_dir, title=f"{name} on {Path(pairs_csv).name}", evaluations=evaluations,
            info={"pairs": str(pairs_csv), "images": str(images_dir), "val": str(val_csv or "")},
            notes=baseline_notes(others), bootstrap=bootstrap)
    return summary


# ---------------------------------------------------------------- closing the loop


@transaction.atomic
def encoder_activate_for_campaign(
    *, campaign: Campaign, encoder_version: EncoderVersion,
    actor: AbstractBaseUser | None = None,
) -> Campaign:
    """Makes a finished GSE the encoder of the campaign's iteration-2 retrieval."""
    if encoder_version.status != EncoderVersion.Status.DONE:
        raise ConflictError(f"encoder version {encoder_version.version}",
                            f"is {encoder_version.status}; only a finished model can be used")
    previous = {"iteration2_source": campaign.iteration2_source,
                "iteration2_encoder_version": campaign.iteration2_encoder_version}
    campaign.iteration2_source = Campaign.Iteration2Source.RETRAINED
    campaign.iteration2_encoder_version = encoder_version.version
    audit_record(action=AuditEvent.Action.ACTIVATE, actor=actor, campaign=campaign,
                 target=f"{encoder_version.version} for iteration 2 of {campaign.name}",
                 details={"encoder_version": encoder_version.version, "previous": previous})
    campaign.save(update_fields=["iteration2_source", "iteration2_encoder_version"])
    return campaign
