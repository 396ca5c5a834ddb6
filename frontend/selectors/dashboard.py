"""Reads for the campaign dashboard: the series its charts draw and its tables list.

Each chart and the table beside it are rendered from the same dict, and every count is a
database aggregate made when the page is asked for (no cached tallies: Label Studio #7902).
The dicts are JSON-ready (the page hands them to Chart.js through ``json_script``) and carry
human labels only: no internal value, file path or choice key is meant to reach the page.
"""

from __future__ import annotations

import datetime as dt
from pathlib import PurePath
from typing import Any

from annotation.models import Campaign
from annotation.stats import agreement_by_bucket, answer_activity, campaign_stats
from encoder.models import EncoderVersion
from pairbuilder.models import PairBuild, Snapshot
from pairbuilder.selectors import pair_counts

UTC = dt.UTC
# Bucket steps and labels of the time charts (the unit is chosen in annotation.stats).
STEP = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1), "week": dt.timedelta(weeks=1)}
LABEL_FORMAT = {"hour": "%b %d %H:00", "day": "%b %d", "week": "week of %b %d"}

# The surface baselines of encoder/gse/baselines.py, by their stored names.
SCORER_LABELS = {"gse": "GSE", "base": "Base model", "pixels": "Raw pixels",
                 "histogram": "Colour histogram", "dhash": "Difference hash",
                 "phash": "Perceptual hash"}


def _floor(moment: dt.datetime, unit: str) -> dt.datetime:
    """The bucket start ``annotation.stats`` gives (its ``date_bin``), computed here to lay
    out the empty buckets too."""
    moment = moment.astimezone(UTC)
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if unit == "day" else day - dt.timedelta(days=day.weekday())


def _buckets(first: dt.datetime, last: dt.datetime, unit: str) -> list[dt.datetime]:
    start, end, out = _floor(first, unit), _floor(last, unit), []
    while start <= end:
        out.append(start)
        start += STEP[unit]
    return out


def annotation_activity(*, campaign: Campaign, activity: dict | None = None) -> dict[str, Any]:
    """Annotations per hour (or day, or week) and per iteration, gaps filled with zeros.

    ``activity`` is ``campaign_stats``'s (the page's one count of the answers); asked for
    without it, it is read. Returns ``{"unit", "iterations": [1, 2], "rows": [{"start" (ISO),
    "label", "counts" (one per iteration), "total"}]}``; no rows before the first answer.
    """
    activity = activity or answer_activity(campaign=campaign)
    if not activity["buckets"]:
        return {"unit": "hour", "iterations": [], "rows": []}
    unit = activity["unit"]
    counts = {(b["start"].astimezone(UTC), b["iteration"]): b["answers"]
              for b in activity["buckets"]}
    iterations = sorted({it for _, it in counts})
    rows = []
    first, last = activity["buckets"][0]["start"], activity["buckets"][-1]["start"]
    for start in _buckets(first, last, unit):
        per_iteration = [counts.get((start, it), 0) for it in iterations]
        rows.append({"start": start.isoformat(), "label": start.strftime(LABEL_FORMAT[unit]),
                     "counts": per_iteration, "total": sum(per_iteration)})
    return {"unit": unit, "iterations": iterations, "rows": rows}


def annotator_pace(*, annotators: list[dict]) -> list[dict[str, Any]]:
    """Each annotator's volume and pace (median seconds per task), from the rows of
    ``annotation.stats.campaign_stats`` (the API's stats give the same figures)."""
    return [{"name": a["annotator"], "annotations": a["annotations"], "skips": a["skips"],
             "median_seconds": None if a["median_ms"] is None else round(a["median_ms"] / 1000, 1)}
            for a in annotators]


def agreement_over_time(*, campaign: Campaign, agreement: dict | None = None) -> dict[str, Any]:
    """Agreement on overlapping tasks, bucketed by when a task got its last answer: the
    bucket's own tasks (Jaccard, alpha) and every task up to it (alpha so far). Only buckets
    in which an overlap completed get a row. ``agreement`` is ``campaign_stats``'s
    ``agreement_over_time`` (computed once with the page's overall agreement)."""
    agreement = agreement or agreement_by_bucket(campaign=campaign)
    unit = agreement["unit"]
    return {"unit": unit, "rows": [
        {"label": r["start"].astimezone(UTC).strftime(LABEL_FORMAT[unit]), "tasks": r["tasks"],
         "jaccard": _round(r["jaccard"]), "alpha": _round(r["alpha"]),
         "alpha_so_far": _round(r["alpha_so_far"])} for r in agreement["rows"]]}


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def pair_build_counts(*, campaign: Campaign) -> dict[str, Any]:
    """For each finished pair build: pairs per rule (kept by the database beside the pair
    rows) and candidate negatives rejected per failed condition (the build's own tally:
    rejected pairs are not stored), labelled with the build's thresholds."""
    builds = list(PairBuild.objects.filter(campaign=campaign, status=PairBuild.Status.DONE)
                  .order_by("pk"))
    labelled = pair_counts([b.pk for b in builds])
    rows = []
    for b in builds:
        p, c = b.params or {}, b.counts or {}
        rows.append({
            "build": b.pk, "label": f"Build {b.pk}",
            "positive": labelled[b.pk].get(1, 0), "negative": labelled[b.pk].get(0, 0),
            "rejected_co_selected": c.get("rejected_co_selected", 0),
            "rejected_query_overlap": c.get("rejected_query_overlap", 0),
            "rejected_text_cosine": c.get("rejected_text_cosine", 0),
            "rejected_no_text": c.get("rejected_no_text", 0),
            "rules": (f"positive: selected together ≥ {p.get('min_positive', 2)}; "
                      f"negative: shown together ≥ {p.get('min_displayed', 2)}, "
                      f"query overlap < {p.get('max_query_overlap', 3)}, "
                      f"text cosine < {p.get('max_text_cosine', 0.7)}"),
        })
    return {"builds": rows, "series": [
        ("positive", "Positive"), ("negative", "Negative"),
        ("rejected_co_selected", "Rejected: selected together"),
        ("rejected_query_overlap", "Rejected: queries overlap"),
        ("rejected_text_cosine", "Rejected: query texts similar"),
        ("rejected_no_text", "Rejected: no query text")]}


def model_label(name: str) -> str:
    """An OpenCLIP name as is; a config or checkpoint path as its file name only."""
    if not name:
        return ""
    if "/" in name or "\\" in name:
        return PurePath(name.replace("\\", "/")).stem
    return name


def _scorer(key: str, metrics: dict, intervals: dict) -> dict[str, Any]:
    auc, f1 = intervals.get("roc_auc") or {}, intervals.get("f1") or {}
    return {"key": key, "label": SCORER_LABELS.get(key, key.replace("_", " ").capitalize()),
            "auc": _round(metrics.get("roc_auc")), "f1": _round(metrics.get("f1")),
            "auc_low": _round(auc.get("low")), "auc_high": _round(auc.get("high")),
            "f1_low": _round(f1.get("low")), "f1_high": _round(f1.get("high"))}


def _scorer_order(name: str) -> tuple:
    """The labels' order, then a-z: jsonb keeps no key order."""
    known = list(SCORER_LABELS)
    return (0, known.index(name), "") if name in known else (1, 0, name)


def snapshot_models(*, campaign: Campaign) -> list[dict[str, Any]]:
    """For each exported snapshot, its finished GSEs scored on its test split beside their
    base model and, when the run stored them, the surface baselines, with intervals."""
    out = []
    snapshots = Snapshot.objects.filter(campaign=campaign, status=Snapshot.Status.DONE)
    gses = (EncoderVersion.objects.filter(snapshot__in=snapshots, kind=EncoderVersion.Kind.GSE,
                                          status=EncoderVersion.Status.DONE)
            .select_related("snapshot").defer("snapshot__manifest")  # not every hash
            .order_by("snapshot__number", "created_at", "pk"))
    for gse in gses:
        metrics = gse.metrics or {}
        intervals = {k.lower() if k == "GSE" else k: v
                     for k, v in ((metrics.get("bootstrap") or {}).get("scorers") or {}).items()}
        scorers = [_scorer("gse", metrics.get("gse") or {}, intervals.get("gse") or {}),
                   _scorer("base", metrics.get("base") or {}, intervals.get("base") or {})]
        baselines = metrics.get("baselines") or {}
        scorers += [_scorer(name, baselines[name] or {}, intervals.get(name) or {})
                    for name in sorted(baselines, key=_scorer_order)]
        out.append({"snapshot": gse.snapshot.number, "version": gse.version,
                    "label": f"Snapshot {gse.snapshot.number} · {gse.version}",
                    "base_model": model_label(gse.model_name),
                    "scorers": scorers})
    return out


def campaign_dashboard(*, campaign: Campaign, stats: dict | None = None) -> dict[str, Any]:
    """Everything the dashboard's charts draw, from ``stats`` (``campaign_stats``: the tables'
    figures, so every chart and its table show one computation); read when not given."""
    stats = stats or campaign_stats(campaign=campaign)
    return {
        "activity": annotation_activity(campaign=campaign, activity=stats["activity"]),
        "annotators": annotator_pace(annotators=stats["annotators"]),
        "agreement": agreement_over_time(campaign=campaign,
                                         agreement=stats["agreement_over_time"]),
        "pairs": pair_build_counts(campaign=campaign),
        "models": snapshot_models(campaign=campaign),
    }
