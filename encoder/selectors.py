"""Reads for encoders: the model registry of the campaign page, one version's status."""
from __future__ import annotations

from typing import Any

from django.db.models import Q

from annotation.models import Campaign
from encoder.models import EncoderVersion
from pairbuilder.selectors import snapshot_latest

METRIC_KEYS = ("accuracy", "precision", "recall", "f1", "roc_auc")


def encoder_default_gse() -> EncoderVersion | None:
    """The newest finished GSE: what the similarity API uses when no model is named."""
    return (EncoderVersion.objects.filter(kind=EncoderVersion.Kind.GSE,
                                          status=EncoderVersion.Status.DONE)
            .order_by("-created_at", "-id").first())


def encoder_version_find(*, value: str | int) -> EncoderVersion | None:
    """A version by primary key or by its version string."""
    text = str(value)
    if "\x00" in text:  # PostgreSQL text cannot hold it: no version has one
        return None
    rows = EncoderVersion.objects.filter(version=text)
    if text.isascii() and text.isdigit():  # "²".isdigit() too, which int() refuses
        rows = rows | EncoderVersion.objects.filter(pk=int(text))
    return rows.first()


def _comparison(metrics: dict[str, Any]) -> dict[str, Any]:
    """The baselines, intervals and verdict a GSE run stored (empty for older runs).

    ``intervals`` is keyed like the panel's columns: ``gse`` and ``base`` then each baseline,
    each with ``f1`` and ``roc_auc`` as {point, low, high}; ``differences`` is GSE minus each.
    """
    boot = metrics.get("bootstrap") or {}
    scorers = boot.get("scorers", {})
    intervals = {("gse" if k == "GSE" else k): v for k, v in scorers.items()}
    baselines = [
        {"name": name, "f1": m.get("f1"), "roc_auc": m.get("roc_auc"),
         "interval": intervals.get(name, {}).get("roc_auc"),
         "difference": boot.get("differences", {}).get(name, {}).get("roc_auc")}
        for name, m in (metrics.get("baselines") or {}).items()]
    return {"intervals": intervals, "baselines": baselines, "verdict": metrics.get("verdict", "")}


def encoder_version_status(*, encoder_version: EncoderVersion) -> dict[str, Any]:
    """What the progress poll and the registry show of one version."""
    metrics = encoder_version.metrics or {}
    return {
        "id": encoder_version.id,
        "version": encoder_version.version,
        "kind": encoder_version.kind,
        "status": encoder_version.status,
        "progress": encoder_version.progress,
        "progress_pct": round(100 * encoder_version.progress),
        "error": encoder_version.error,
        "snapshot": encoder_version.snapshot.number if encoder_version.snapshot else None,
        "model_name": encoder_version.model_name,
        "pretrained": encoder_version.pretrained or "(random init)",
        "threshold": encoder_version.threshold,
        "gse": {k: (metrics.get("gse") or {}).get(k) for k in METRIC_KEYS},
        "base": {k: (metrics.get("base") or {}).get(k) for k in METRIC_KEYS},
        "report_dir": encoder_version.report_dir,
        "created_at": encoder_version.created_at,
        **_comparison(metrics),
    }


def campaign_panel(*, campaign: Campaign) -> dict:
    """Context for the campaign page's model-registry panel (``_models.html``), under one
    key, ``encoder_panel``, so it never clashes with the other panels' keys.

    Lists the GSEs trained on this campaign's snapshots and the versions the campaign uses,
    newest first, each with GSE and base metrics side by side.
    """
    used = [v for v in (campaign.encoder_version, campaign.iteration2_encoder_version) if v]
    rows = (EncoderVersion.objects.filter(Q(snapshot__campaign=campaign) | Q(version__in=used))
            .select_related("snapshot").order_by("-created_at", "-id"))
    versions = [
        {**encoder_version_status(encoder_version=row),
         "is_iteration2": row.version == campaign.iteration2_encoder_version,
         "is_iteration1": row.version == campaign.encoder_version}
        for row in rows
    ]
    latest = snapshot_latest(campaign=campaign)
    return {"encoder_panel": {
        "campaign_id": campaign.id,
        "versions": versions,
        "training": [v for v in versions if v["status"] in ("pending", "running")],
        "latest_snapshot": latest.number if latest else None,
        "iteration2_source": campaign.iteration2_source,
        "iteration2_encoder_version": campaign.iteration2_encoder_version,
        "metric_keys": METRIC_KEYS,
    }}
